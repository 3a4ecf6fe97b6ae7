//! How well the offline guided agent understands callers who do not use its example phrases:
//! the sets of `switchboard bench intents` (at least 20 phrasings per intent, written
//! apart from the examples, and out-of-scope questions that must not trigger a tool), each said
//! as the first turn of a fresh `agent chat`-style session as Maria, ten conversations at once
//! as on a busy node. Sets A and C to G were looked at while the agent was tuned (development sets);
//! sets B and H were written by someone else and are never tuned on: they are the honest figures. Prints the
//! accuracy per intent; a development set's misses when it fails.

use crate::common::{on_each_db, sqlite};
use switchboard::cli::bench_intents::{file_set, measure, Phrasings, Score, SET_A, SET_B, SET_C};

async fn score(db: &switchboard::db::Db, set: &'static Phrasings) -> Score {
    switchboard::demo::ensure(db).await.unwrap();
    // (Sets D to L have fewer greetings, yes and no: most they had were too like another set's.)
    if !['D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L']
        .into_iter()
        .any(|id| std::ptr::eq(set, file_set(id).unwrap()))
    {
        for (want, phrasings) in set {
            assert!(phrasings.len() >= 20, "{want}: at least 20 phrasings");
        }
    }
    let score = measure(db, "order-assistant", 10, set).await.unwrap();
    eprintln!(
        "guided agent: {:.1} % ({}/{}); {:?}",
        score.accuracy() * 100.0,
        score.right(),
        score.all(),
        score.per_intent
    );
    assert_eq!(score.fallbacks, 0, "the guided agent never gives up on a turn");
    score
}

/// Set A, on both databases (the agent's configuration and the demo's data come from them).
async fn development_set(db: switchboard::db::Db) {
    let score = score(&db, &SET_A).await;
    // 85.0 % before this set was used, 94.0 % after its misses were looked at, 99.5 % once a
    // few of them were among the examples: it shows nothing is lost, not how well callers are
    // understood (set B does).
    assert!(score.accuracy() >= 0.99, "{:.1} % < 99 %: {:#?}", score.accuracy() * 100.0, score.misses);
    // (Set B's misses are never printed: whoever reads them would be tuning on it.)
    assert_eq!(
        score.out_of_scope_acted_on(),
        0,
        "out-of-scope questions answered with a tool: {:#?}",
        score.misses
    );
}

/// A development set on SQLite: at least `floor` of it understood, at most `acted_on`
/// out-of-scope questions answered with a tool; its misses printed when it falls short.
async fn development(set: &'static Phrasings, floor: f64, acted_on: usize) {
    if !crate::agent::embeddings_installed() {
        return;
    }
    let t = sqlite().await;
    let score = score(&t.db, set).await;
    let (accuracy, floor_pc) = (score.accuracy() * 100.0, floor * 100.0);
    assert!(score.accuracy() >= floor, "{accuracy:.1} % < {floor_pc:.0} %: {:#?}", score.misses);
    assert!(
        score.out_of_scope_acted_on() <= acted_on,
        "out-of-scope questions answered with a tool: {:#?}",
        score.misses
    );
}

/// A set never tuned on, on SQLite: at least `right` of it understood, at most `acted_on`
/// out-of-scope questions answered with a tool (its misses never printed).
async fn never_tuned_on(set: &'static Phrasings, right: usize, acted_on: usize) {
    if !crate::agent::embeddings_installed() {
        return;
    }
    let t = sqlite().await;
    let score = score(&t.db, set).await;
    let floor = right as f64 / score.all() as f64 * 100.0;
    let (accuracy, all) = (score.accuracy() * 100.0, score.all());
    assert!(score.right() >= right, "{accuracy:.1} % < {floor:.1} % ({right} of {all})");
    assert!(score.out_of_scope_acted_on() <= acted_on, "out-of-scope questions answered with a tool");
}

#[tokio::test]
async fn the_guided_agent_understands_the_development_phrasings() {
    if !crate::agent::embeddings_installed() {
        return;
    }
    on_each_db(development_set).await;
}

#[tokio::test]
async fn the_guided_agent_understands_the_second_development_set() {
    // 87.2 % when it was written (set B then measured 88.4 %), 98.1 % once examples were
    // written for the kinds of request it missed (refunds and returns followed up, "is this the
    // shop?", sales and ordering by phone out of scope); 97.7 % with the classifier (set D's
    // lesson: it places more of the phrasings unlike any one example, loses one of these),
    // 98.1 % with set E's word cues, 98.5 % with sets F and G's.
    development(&SET_C, 0.98, 3).await;
}

#[tokio::test]
async fn the_guided_agent_understands_the_third_development_set() {
    // 85.6 % when it was written (set B then 90.1 %); 93.8 % with the classifier trained on
    // the examples deciding when it is sure (set B 93.2 %), 95.9 % once "put me through to …"
    // asked for a person, "absolutely not" was a no, and a few examples were added; 97.5 %
    // with set E's word cues, 98.8 % with sets F and G's (nothing out of scope acted on).
    development(file_set('D').unwrap(), 0.98, 2).await;
}

#[tokio::test]
async fn the_guided_agent_understands_the_fourth_development_set() {
    // 93.3 % when it was written (set B then 93.9 %); 99.2 % once word cues settled a case
    // named as such, the caller's own order or balance, word left for someone, a department
    // asked for, and "a person" described rather than asked for; still 99.2 % after sets F and
    // G's rounds.
    development(file_set('E').unwrap(), 0.99, 2).await;
}

#[tokio::test]
async fn the_guided_agent_understands_phrasings_it_was_never_tuned_on() {
    // Measured once before and once after each round of tuning on a development set: 83.7 %,
    // 88.4 % after set A's lessons, 90.1 % after set C's, 93.2 % with the classifier and
    // 93.9 % after set D's, 94.6 % after set E's (the target is 95 %, not met). The
    // embeddings are exact per text and the classifier's training is sequential, so the figure
    // does not move between runs or with ten conversations at once: a guard against going back.
    // After sets F and G's round: 94.2 % (277, one fewer; set H, untouched, went from 88.6 %
    // to 93.6 % with the same change, so the round was kept); 94.6 % (278) after set I's,
    // unchanged after set J's, 94.9 % (279) after set K's, 95.2 % (280: the 95 %)
    // after set L's.
    never_tuned_on(&SET_B, 280, 1).await;
}

#[tokio::test]
async fn the_guided_agent_understands_a_second_set_it_was_never_tuned_on() {
    // Written after set G's round and measured before and after it, never tuned on (its
    // misses are never printed): 88.6 % (6 acted on) before, 93.6 % (3) after, 94.1 % once a
    // review's misfiring cues were narrowed; 95.5 % (2 acted on) after set I's round, 95.9 %
    // after set J's, 96.4 % after set K's, unchanged after set L's.
    never_tuned_on(file_set('H').unwrap(), 212, 2).await;
}

#[tokio::test]
async fn the_guided_agent_understands_the_fifth_development_set() {
    // Long-tail phrasings, harder than the others: 83.6 % when it was written (13 out-of-scope
    // questions acted on), 91.1 % once changing or placing an order was out of scope, more
    // ways of leaving word, asking for a department or manager, balances and yes/no were
    // cues (set B unchanged at 94.6 %); 96.6 % (4 acted on) with set G's round: an order
    // waited for ("still aren't here", "make it in time"), a problem or return told of, a
    // question about how things usually go, messages for someone named, "is Dave there",
    // "are you a robot".
    development(file_set('F').unwrap(), 0.96, 4).await;
}

#[tokio::test]
async fn the_guided_agent_understands_the_sixth_development_set() {
    // An ordinary mix: 87.3 % when it was written, 90.2 % untouched by the round of examples
    // and cues that F's misses led to (written before G was seen), 99.2 % once tuned on.
    development(file_set('G').unwrap(), 0.99, 1).await;
}

#[tokio::test]
async fn the_guided_agent_understands_the_seventh_development_set() {
    // Callers as a recogniser writes them (lower case, fillers, numbers in words, trick words):
    // 87.8 % when it was written; 98.1 % (1 acted on) once something wrong with a thing the
    // caller has ("the zip on my new tent broke", "arrived cracked") was a case, a call back
    // asked for was word left, "inform Mr Patel", "is Jo around", "speak with Mr Patel", "the
    // balance on the trekking poles" (a product question) and "my account standing" were cues.
    development(file_set('I').unwrap(), 0.98, 1).await;
}

#[tokio::test]
async fn the_guided_agent_understands_the_eighth_development_set() {
    // Context told first, and general or hypothetical questions about orders, refunds and
    // tickets: 91.1 % (8 acted on) when it was written (set I's round made first), 97.5 % (1)
    // once "in general", "hypothetically", "what happens if" and "I haven't ordered" asked in
    // general, a long turn with no greeting in it was not one, "is he available" asked for a
    // person, "my last payment" was the balance.
    development(file_set('J').unwrap(), 0.97, 1).await;
}

#[tokio::test]
async fn the_guided_agent_understands_the_ninth_development_set() {
    // Callers of many backgrounds (non-native speakers, regional idioms, very polite or blunt,
    // correcting themselves): 78.0 % (12 acted on) when it was written, 95.8 % (4) once a
    // problem told without saying whose it is ("tent fabric has a tear straight out the box")
    // was a case, "has that one shipped", "make it before Saturday", "in arrears", "billing
    // department please", "put Jenny on", "don't put me through, just tell Sam to ring me",
    // "jot this down for", "relay to", "out of curiosity" and "policy" were cues.
    development(file_set('K').unwrap(), 0.95, 4).await;
}

#[tokio::test]
async fn the_guided_agent_understands_the_tenth_development_set() {
    // Plain phrasings with other words for things (purchase, goods, funds, carried forward,
    // extension, patch me through, drop a line, return my call): 85.6 % (2 acted on) when it
    // was written (set K's round made first), 100 % once tuned on.
    development(file_set('L').unwrap(), 0.99, 0).await;
}
