//! Spoken IVR choices with the real sentence-embedding model and the demo's main menu (sales
//! 1: "sales", "buy"; support 2: "support", "help", "return"; the order assistant 3: "order",
//! "where is my order", "tracking"): what callers say in their own words picks the option a
//! person would, and talk that names no option picks none. (`ivr_speech`'s own tests use toy
//! vectors.)

use switchboard::calls::ivr_speech::{Meaning, Picked};

fn usable() -> bool {
    match switchboard_models::embed::MiniLm::shared(&switchboard_models::catalog::default_dir()) {
        Ok(_) => true,
        Err(e) => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "the MiniLM model is not usable: {e}");
            eprintln!("skipping: the MiniLM model is not usable: {e}");
            false
        }
    }
}

#[tokio::test]
async fn callers_own_words_pick_the_option_a_person_would() {
    if !usable() {
        return;
    }
    let menu = switchboard::demo::config().ivr_menus.remove(0);
    let meaning = Meaning::new(menu.options.clone()).await.expect("the menu's phrases embedded");
    let cases: &[(&str, Option<&str>)] = &[
        ("Support, please.", Some("2")),
        ("Two.", Some("2")),
        ("Where's my package?", Some("3")),
        ("I want to track my parcel", Some("3")),
        ("I'd like to buy a tent", Some("1")),
        ("I like turtles.", None),
        ("Hello?", None),
        ("Is anybody there?", None),
        ("What's the weather like today?", None),
    ];
    let mut wrong = Vec::new();
    for (said, want) in cases {
        let got = meaning.pick(said, &menu.options).await;
        let digit = got.as_ref().map(|p: &Picked| menu.options[p.option()].digit.as_str());
        if digit != *want {
            wrong.push(format!("{said:?} picked {got:?}, wanted {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
