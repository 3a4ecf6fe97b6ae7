//! The coaching task as a call runs it, in its own test process (it loads the speech engines,
//! which the integration tests' health check expects never to have been asked for): 20 ms
//! frames at call pace on both taps, the real recogniser, embedder and store, and a scripted
//! OpenAI-compatible LLM as the queue's coach.

/// Whisper and MiniLM, or a skip (a failure under CI=true).
async fn installed() -> bool {
    let fail = |what: String| {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{what}");
        eprintln!("skipping: {what}");
        false
    };
    if let Err(e) = switchboard_models::embed::MiniLm::shared(&switchboard_models::catalog::default_dir()) {
        return fail(format!("the MiniLM model is not usable: {e}"));
    }
    match &switchboard::agent::voice::Engines::shared().await.recognizer {
        Ok(_) => true,
        Err(e) => fail(format!("no recogniser: {e}")),
    }
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
    if !installed().await {
        return;
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
        tokio::spawn(async move {
            coach::run(session, &settings, Audio { caller, agent }, db, None, None, stop).await
        })
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
