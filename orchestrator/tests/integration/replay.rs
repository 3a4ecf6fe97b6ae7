//! `agent replay`: a recorded AI call said again to the agent as it is configured now. The
//! same configuration does the same things; a changed one (a tool taken away) shows the turn
//! that would go differently, and where the call would end; nothing is written to any record.

use crate::agent::{llm_agent, newest_call, scripted_llm, session, turn};
use crate::common::on_each_db;
use switchboard::agent::replay;
use switchboard::model::AiAgent;
use switchboard::store::{accounts, calls, config};

#[tokio::test]
async fn a_recorded_call_replayed_shows_what_a_changed_agent_would_do_differently() {
    let url = scripted_llm().await;
    on_each_db(|db| {
        let url = url.clone();
        async move {
            switchboard::demo::ensure(&db).await.unwrap();
            let account = accounts::by_slug(&db, "demo").await.unwrap().unwrap().id;
            llm_agent(&db, account, &url).await;
            let records = calls::RecordWriter::start(db.clone());
            let (mut s, key) = session(&db, &records, account, "llm-assistant").await;
            s.greeting();
            turn(&mut s, "Where is my order 1002?").await;
            turn(&mut s, "Thanks, can I talk to a person please?").await;
            s.finish();
            records.finish(
                key,
                calls::Ending { disposition: calls::Disposition::Answered, hung_up_by: None, carrier: None },
            );
            records.flush().await;
            let call = newest_call(&db, account).await;
            let id = call.record.id;
            let calls_before =
                calls::list(&db, account, &calls::CallQuery::default(), None).await.unwrap().len();

            // The same agent: the same tools with the same arguments, the same destination.
            let same = replay::replay(&db, account, id, None).await.unwrap();
            assert_eq!(same.agent, "llm-assistant");
            assert_eq!(same.turns.len(), 2, "{same:?}");
            assert_eq!(
                same.turns[0].then.tools.first().map(|t| t.tool.as_str()),
                Some("lookup_order"),
                "{same:?} {:?} {:?}",
                call.timeline,
                call.transcript
            );
            assert_eq!(same.turns[0].then.tools[0].arguments["order_number"], "1002");
            assert!(same.turns.iter().all(|t| !t.acts_differently), "{same:?}");
            assert!(
                same.turns[1].then.outcome.as_deref().unwrap_or_default().starts_with("transfer"),
                "{same:?}"
            );
            assert!(same.summary.starts_with("All 2 turns"), "{}", same.summary);

            // The agent loses its order lookup: the first turn goes differently.
            let mut agent =
                config::get_by_key::<AiAgent>(&db, account, "llm-assistant").await.unwrap().unwrap();
            agent.spec.tools.clear();
            config::update(&db, account, agent.id, agent.spec).await.unwrap();
            let changed = replay::replay(&db, account, id, None).await.unwrap();
            assert!(changed.turns[0].acts_differently, "{changed:?}");
            let now = changed.turns[0].now.as_ref().unwrap();
            assert!(now.tools.iter().all(|t| t.tool != "lookup_order"), "{changed:?}");
            assert!(changed.summary.contains("1 of 2 turns would go differently"), "{}", changed.summary);

            // Replays write no call record; a call without an AI agent is refused clearly.
            records.flush().await;
            let calls_after =
                calls::list(&db, account, &calls::CallQuery::default(), None).await.unwrap().len();
            assert_eq!(calls_before, calls_after);
            assert!(matches!(
                replay::replay(&db, account, id + 1000, None).await,
                Err(replay::ReplayError::Store(_))
            ));
        }
    })
    .await;
}
