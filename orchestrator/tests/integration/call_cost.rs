//! A call's cost as it ends: carrier time priced at the trunk's rates (inbound from answer,
//! outside legs from their answer), written beside the AI's cost.

use crate::common::on_each_db;
use crate::role_matrix::fixture;
use switchboard::store::calls::{self, CarrierRates, Disposition, Ending, HungUpBy, NewCall};

fn new(direction: &str, from: &str, to: &str) -> NewCall {
    NewCall {
        direction: direction.into(),
        from_number: from.into(),
        to_number: to.into(),
        customer_id: None,
        agent_extension: None,
        ai_agent: None,
    }
}

fn ended(carrier: Option<CarrierRates>) -> Ending {
    Ending { disposition: Disposition::Answered, hung_up_by: Some(HungUpBy::Caller), carrier }
}

#[tokio::test]
async fn carrier_time_is_priced_at_the_trunks_rates_as_the_call_ends() {
    on_each_db(|db| async move {
        let f = fixture(&db, "acme", "+1555").await;
        let writer = calls::RecordWriter::start(db.clone());
        let rates = CarrierRates { inbound_micros_per_minute: 6_000, outbound_micros_per_minute: 12_000 };
        // In from the carrier, answered: priced inbound. Out through it: priced outbound from
        // the outside leg's answer. Between phones: nothing. In without an answer: nothing.
        let inbound = writer.create(f.account_id, new("inbound", "+12025550100", "+15550000001"), None);
        let outbound = writer.create(f.account_id, new("outbound", "101", "+12025550199"), None);
        let internal = writer.create(f.account_id, new("internal", "101", "102"), None);
        let missed = writer.create(f.account_id, new("inbound", "+12025550111", "+15550000001"), None);
        writer.answered(inbound);
        writer.answered(internal);
        let leg = writer.leg(outbound, "external", "+12025550199");
        writer.answered(outbound);
        writer.leg_answered(leg);
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        for key in [inbound, outbound, internal] {
            writer.finish(key, ended(Some(rates)));
        }
        writer.finish(missed, Ending { disposition: Disposition::Abandoned, ..ended(Some(rates)) });
        writer.flush().await;
        let detail = |key| {
            let (db, writer) = (db.clone(), writer.clone());
            async move {
                let id = writer.id_of(key).await.unwrap();
                calls::get(&db, f.account_id, id, None).await.unwrap()
            }
        };
        let usage = |d: &calls::CallDetail| {
            d.timeline.iter().find(|e| e.kind == "carrier_usage").map(|e| e.data.clone())
        };
        let d = detail(inbound).await;
        let u = usage(&d).expect("inbound carrier time priced");
        let seconds = u["inbound_seconds"].as_f64().unwrap();
        assert!((1.4..5.0).contains(&seconds), "{u}");
        let cost = u["cost_micros"].as_i64().unwrap();
        assert_eq!(cost, (seconds * 1000.0).round() as i64 * 6_000 / 60_000, "{u}");
        assert_eq!(d.record.cost_micros, cost);
        assert_eq!(u["outbound_seconds"], 0.0);
        let d = detail(outbound).await;
        let u = usage(&d).expect("outbound carrier time priced");
        let seconds = u["outbound_seconds"].as_f64().unwrap();
        assert!((1.4..5.0).contains(&seconds), "{u}");
        assert!(d.record.cost_micros > 0 && d.record.cost_micros == u["cost_micros"].as_i64().unwrap());
        for key in [internal, missed] {
            let d = detail(key).await;
            assert!(usage(&d).is_none(), "{:?}", d.timeline);
            assert_eq!(d.record.cost_micros, 0);
        }
    })
    .await;
}
