//! The coach's judgement with the real sentence-embedding model and the demo's coach settings:
//! what an agent says in their own words ticks the right checklist items and nothing else, and a
//! caller's question in other words than the merchant wrote finds the written answer. (The
//! engine's own tests use toy vectors; these hold the thresholds to the real model.)

use switchboard::calls::coach::engine::{sentences, Action, Coach, Prepared, Sentence, Speaker};
use switchboard_models::embed::MiniLm;

fn installed() -> Option<std::sync::Arc<MiniLm>> {
    let dir = switchboard_models::catalog::default_dir();
    match MiniLm::shared(&dir) {
        Ok(m) => Some(m),
        Err(e) => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "the MiniLM model is not usable: {e}");
            eprintln!("skipping: the MiniLM model is not usable: {e}");
            None
        }
    }
}

fn say(coach: &mut Coach, model: &MiniLm, who: Speaker, text: &str) -> Vec<Action> {
    let parts = sentences(text);
    let texts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let vectors = model.embed(&texts).unwrap();
    let s: Vec<Sentence> =
        parts.iter().zip(&vectors).map(|(t, v)| Sentence { text: t, vector: Some(v) }).collect();
    coach.handle_line(who, text, &s)
}

fn ticks(actions: &[Action]) -> Vec<usize> {
    actions.iter().filter_map(|a| if let Action::Tick(i) = a { Some(*i) } else { None }).collect()
}

#[test]
fn the_demo_checklist_ticks_for_what_agents_really_say_and_not_for_the_rest() {
    let Some(model) = installed() else { return };
    let settings = switchboard::demo::coach();
    let prepared = Prepared::new(&settings, |t| model.embed(t).unwrap());
    // 0 greet, 1 verify, 2 recap, 3 offer further help
    let cases: &[(&str, &[usize])] = &[
        ("Thank you for calling that me, my name is Alice, how can I help you today?", &[0]),
        ("Good morning, you're through to Sam at Acme.", &[0]),
        ("Sure, let me look at that for you.", &[]),
        ("I've sent you a new label by email.", &[]),
        ("Before I go on, could you confirm the email address on the account?", &[1]),
        ("Alright, so to recap: the replacement ships today and the label is in your inbox.", &[2]),
        ("Is there anything else I can do for you today?", &[3]),
    ];
    for (line, want) in cases {
        let mut coach = Coach::new(Prepared {
            checklist: prepared.checklist.clone(),
            answers: Vec::new(),
            has_llm: false,
        });
        let got = ticks(&say(&mut coach, &model, Speaker::Agent, line));
        assert_eq!(&got, want, "{line:?} ticked {got:?}");
    }
}

#[test]
fn a_question_in_the_callers_words_finds_the_merchants_answer() {
    let Some(model) = installed() else { return };
    let settings = switchboard::demo::coach();
    let mut coach = Coach::new(Prepared::new(&settings, |t| model.embed(t).unwrap()));
    let suggested = |actions: Vec<Action>| {
        actions.into_iter().find_map(|a| if let Action::Suggest { say, .. } = a { Some(say) } else { None })
    };
    let got = suggested(say(
        &mut coach,
        &model,
        Speaker::Caller,
        "Hi, I'd like to send these boots back, how does that work?",
    ));
    assert!(got.as_deref().is_some_and(|s| s.starts_with("Returns are free")), "{got:?}");
    let got =
        suggested(say(&mut coach, &model, Speaker::Caller, "How many days until the parcel gets to me?"));
    assert!(got.as_deref().is_some_and(|s| s.starts_with("Standard shipping")), "{got:?}");
    let got = suggested(say(&mut coach, &model, Speaker::Caller, "Do you have the tent in green?"));
    assert_eq!(got, None);
}

/// A scripted OpenAI-compatible coach LLM: answers every request with one suggestion and keeps
/// the requests it got.
async fn scripted_llm() -> (String, std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>) {
    use axum::response::IntoResponse;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |axum::Json(req): axum::Json<serde_json::Value>| {
            let keep = keep.clone();
            async move {
                keep.lock().unwrap().push(req);
                let chunk = |text: &str, finish: Option<&str>| {
                    serde_json::json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]})
                };
                let body = format!(
                    "data: {}\n\ndata: {}\n\ndata: [DONE]\n\n",
                    chunk("Tell them the tent ", None),
                    chunk("comes in green and orange.", Some("stop"))
                );
                ([("content-type", "text/event-stream")], body).into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), seen)
}

/// The coaching task as a call runs it (20 ms frames at call pace on both taps, the real
/// recogniser, embedder and store): the caller names an order and asks something no written
/// answer covers; the order's card comes from the store and the queue's LLM suggests the rest,
/// having been sent the conversation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coached_call_gets_the_orders_card_and_the_llms_suggestion() {
    use switchboard::calls::coach::{self, Audio, Session};
    let Some(_) = installed() else { return };
    let engines = switchboard::agent::voice::Engines::shared().await;
    if let Err(e) = &engines.recognizer {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "no recogniser: {e}");
        return eprintln!("skipping: no recogniser: {e}");
    }
    let dir = tempfile::tempdir().unwrap();
    let db = switchboard::db::Db::open(&switchboard::db::Db::sqlite_url(dir.path())).await.unwrap();
    switchboard::demo::ensure(&db).await.unwrap();
    let account =
        switchboard::store::accounts::by_slug(&db, switchboard::demo::ACCOUNT).await.unwrap().unwrap().id;
    let (url, requests) = scripted_llm().await;
    let mut settings = switchboard::demo::coach();
    settings.llm =
        Some(serde_json::from_value(serde_json::json!({"base_url": url, "model": "coach"})).unwrap());

    let session = Session::new(account, None, 7, "sales", "101");
    let (caller_tx, caller) = tokio::sync::mpsc::unbounded_channel();
    let (agent_tx, agent) = tokio::sync::mpsc::unbounded_channel();
    let (stop_tx, stop) = tokio::sync::oneshot::channel();
    let task = {
        let (session, db) = (session.clone(), db.clone());
        tokio::spawn(
            async move { coach::run(session, &settings, Audio { caller, agent }, db, None, stop).await },
        )
    };
    let voice = switchboard_speech::tts::Espeak::default();
    let say = |text: &str| {
        use switchboard_speech::tts::TextToSpeech;
        let a = voice.synthesize(text).unwrap();
        switchboard_telephony::media::player::resample(&a.samples, a.rate, 8000)
    };
    let mut audio: Vec<i16> = vec![0; 8000];
    audio.extend(say("Order number one zero zero two."));
    audio.extend(vec![0; 8000 * 2]);
    audio.extend(say("I want to speak to your manager."));
    audio.extend(vec![0; 8000 * 2]);
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(20));
    let silence = vec![0i16; 160];
    let mut frames = audio.chunks(160).map(|c| c.to_vec()).collect::<std::collections::VecDeque<_>>();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    let view = loop {
        tick.tick().await;
        let mut frame = frames.pop_front().unwrap_or_else(|| silence.clone());
        frame.resize(160, 0);
        let _ = (caller_tx.send(frame), agent_tx.send(silence.clone()));
        let view = session.view();
        let has = |kind: &str, source: Option<&str>| {
            view.cards.iter().any(|c| c.kind == kind && (source.is_none() || c.source.as_deref() == source))
        };
        if has("order", None) && has("suggestion", Some("LLM")) {
            break view;
        }
        assert!(std::time::Instant::now() < deadline, "no order card and LLM suggestion: {view:?}");
    };
    let order = view.cards.iter().find(|c| c.kind == "order").unwrap();
    assert_eq!(order.title, "Order #1002", "{order:?}");
    assert!(order.heard.as_deref().unwrap_or_default().to_lowercase().contains("order number"), "{order:?}");
    let llm = view.cards.iter().find(|c| c.source.as_deref() == Some("LLM")).unwrap();
    assert_eq!(llm.lines, vec!["Tell them the tent comes in green and orange.".to_string()]);
    assert_eq!(view.alerts.iter().map(|a| a.kind.as_str()).collect::<Vec<_>>(), vec!["asks_for_manager"]);
    assert_eq!(view.transcript.iter().filter(|l| l.speaker == coach::engine::Speaker::Caller).count(), 2);
    // The LLM was sent the conversation, in the coach's own request.
    let sent = requests.lock().unwrap().clone();
    let request = sent.last().expect("the LLM was asked");
    assert_eq!(request["model"], "coach");
    assert_eq!(request["messages"][0]["role"], "system");
    let conversation = request["messages"][1]["content"].as_str().unwrap_or_default().to_lowercase();
    assert!(conversation.contains("caller:") && conversation.contains("manager"), "{conversation}");
    let _ = stop_tx.send(());
    task.await.unwrap();
}
