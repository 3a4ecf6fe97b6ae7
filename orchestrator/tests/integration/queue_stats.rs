//! A scripted day in a queue, as the dashboard counts it: offered, answered, abandoned, sent to
//! overflow, missed offers (busy or unanswered, not unregistered), the average wait of answered
//! callers, the handle time of ended calls and the service level; other accounts' calls and
//! calls before the day do not count.

use crate::common::on_each_db;
use crate::role_matrix::fixture;
use serde_json::json;
use std::collections::HashMap;
use switchboard::store::calls::{self, Disposition, Ending, HungUpBy, NewCall};
use switchboard::store::queue_stats;

fn caller(n: u32) -> NewCall {
    NewCall {
        direction: "inbound".into(),
        from_number: format!("+1202555{n:04}"),
        to_number: "+15550000001".into(),
        customer_id: None,
        agent_extension: None,
        ai_agent: None,
    }
}

#[tokio::test]
async fn a_scripted_day_is_counted_as_the_dashboard_shows_it() {
    on_each_db(|db| async move {
        let f = fixture(&db, "acme", "+1555").await;
        let other = fixture(&db, "globex", "+1666").await;
        let writer = calls::RecordWriter::start(db.clone());
        let since = switchboard::clock::now_ms() - 1;
        let ended =
            Ending { disposition: Disposition::Answered, hung_up_by: Some(HungUpBy::Caller), carrier: None };
        // Answered after 10 s (one member let it ring out first), then talked.
        let a = writer.create(f.account_id, caller(1), None);
        writer.event(a, "queue_joined", json!({"queue": "support", "position": 1}));
        writer.event(a, "queue_offer", json!({"queue": "support", "agent": "102", "status": 408}));
        writer.event(a, "queue_answered", json!({"queue": "support", "agent": "101", "waited_ms": 10_000}));
        // Answered after 45 s: outside the 20 s service level.
        let b = writer.create(f.account_id, caller(2), None);
        writer.event(b, "queue_joined", json!({"queue": "support", "position": 2}));
        writer.event(b, "queue_offer", json!({"queue": "support", "agent": "102", "status": 486}));
        writer.event(b, "queue_answered", json!({"queue": "support", "agent": "101", "waited_ms": 45_000}));
        // Gave up after 30 s.
        let c = writer.create(f.account_id, caller(3), None);
        writer.event(c, "queue_joined", json!({"queue": "support", "position": 3}));
        writer.event(c, "queue_abandoned", json!({"queue": "support", "waited_ms": 30_000}));
        // Sales: nobody registered (not a missed offer), sent to overflow.
        let d = writer.create(f.account_id, caller(4), None);
        writer.event(d, "queue_joined", json!({"queue": "sales", "position": 1}));
        writer.event(d, "queue_offer", json!({"queue": "sales", "agent": "101", "status": 480}));
        writer.event(d, "queue_overflow", json!({"queue": "sales", "reason": "nobody can take calls"}));
        // Another account's caller.
        let e = writer.create(other.account_id, caller(5), None);
        writer.event(e, "queue_joined", json!({"queue": "support", "position": 1}));
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        writer.finish(a, ended);
        writer.finish(c, Ending { disposition: Disposition::Abandoned, ..ended });
        writer.finish(d, ended);
        writer.flush().await;

        let thresholds: HashMap<String, u32> = [("support".to_string(), 20)].into();
        let day = queue_stats::since(&db, f.account_id, since, &thresholds).await.unwrap();
        let s = &day["support"];
        assert_eq!(
            (s.offered, s.answered, s.abandoned, s.overflowed, s.missed_offers),
            (3, 2, 1, 0, 2),
            "{s:?}"
        );
        assert_eq!(s.average_wait_s, Some(27.5));
        assert_eq!(s.service_level, Some(1.0 / 3.0), "one of three answered within 20 s");
        let handle = s.average_handle_s.expect("call a ended: its handle time");
        assert!((1.0..10.0).contains(&handle), "{handle}");
        let sales = &day["sales"];
        assert_eq!(
            (sales.offered, sales.overflowed, sales.missed_offers, sales.answered),
            (1, 1, 0, 0),
            "{sales:?}"
        );
        assert_eq!(sales.service_level, None);
        let theirs = queue_stats::since(&db, other.account_id, since, &thresholds).await.unwrap();
        assert_eq!(theirs["support"].offered, 1);
        let later = queue_stats::since(&db, f.account_id, switchboard::clock::now_ms() + 60_000, &thresholds)
            .await
            .unwrap();
        assert!(later.is_empty(), "nothing after the day began");
    })
    .await;
}
