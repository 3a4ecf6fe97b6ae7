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
