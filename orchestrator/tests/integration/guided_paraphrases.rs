//! How well the offline guided agent understands callers who do not use its example phrases:
//! the held-out set of `switchboard bench intents` (at least 20 phrasings per intent, written
//! apart from the examples and never used to choose them, and out-of-scope questions that must
//! not trigger a tool), each said as the first turn of a fresh `agent chat`-style session as
//! Maria, ten conversations at once as on a busy node. Prints the accuracy per intent and each
//! miss.

use crate::common::on_each_db;
use switchboard::cli::bench_intents::{measure, phrases};

async fn check(db: switchboard::db::Db) {
    switchboard::demo::ensure(&db).await.unwrap();
    for (want, set) in phrases::SETS {
        assert!(set.len() >= 20, "{want}: at least 20 phrasings");
    }
    let score = measure(&db, "order-assistant", 10).await.unwrap();
    eprintln!(
        "guided agent, held-out phrasings: {:.1} % ({}/{}); {:?}",
        score.accuracy() * 100.0,
        score.right(),
        score.all(),
        score.per_intent
    );
    for m in &score.misses {
        eprintln!("  missed: {m:?}");
    }
    // The target is 95 %; measured 85.0 % before this set was used, 94.0 % since (the
    // embeddings are exact per text, so the figure does not move between runs or with ten
    // conversations at once). A guard against going back, until the target is met.
    assert!(score.accuracy() >= 0.94, "{:.1} % < 94 %: {:#?}", score.accuracy() * 100.0, score.misses);
    assert!(
        score.out_of_scope_acted_on() <= 1,
        "out-of-scope questions answered with a tool: {:#?}",
        score.misses
    );
    assert_eq!(score.fallbacks, 0, "the guided agent never gives up on a turn");
}

#[tokio::test]
async fn the_guided_agent_understands_held_out_phrasings() {
    if !crate::agent::embeddings_installed() {
        return;
    }
    on_each_db(check).await;
}
