//! Config as code: export → import round trips; invalid files change nothing.

use crate::common::on_each_db;
use switchboard::configfile::{self, ConfigFile};
use switchboard::db::Db;
use switchboard::model::{Agent, QueueStrategy};
use switchboard::store::{accounts, config as cfg};

async fn round_trip(db: Db) {
    let (created, _) = switchboard::demo::ensure(&db).await.unwrap();
    assert!(created);
    let (created_again, _) = switchboard::demo::ensure(&db).await.unwrap();
    assert!(!created_again, "loading the demo twice must not duplicate it");

    // The demo as loaded is exactly the demo configuration.
    let exported = configfile::export(&db, "demo", true).await.unwrap();
    assert_eq!(exported, switchboard::demo::config().normalized());
    let yaml = exported.to_yaml().unwrap();
    assert_eq!(ConfigFile::from_yaml(&yaml).unwrap(), exported);

    // Importing the export changes nothing.
    let summary = configfile::import(&db, exported.clone(), false).await.unwrap();
    assert!(
        summary.created.is_empty() && summary.updated.is_empty() && summary.deleted.is_empty(),
        "{summary:?}"
    );

    // Without secrets the export carries no passwords, and importing it keeps the stored ones.
    let public = configfile::export(&db, "demo", false).await.unwrap().to_yaml().unwrap();
    assert!(!public.contains("alice-sip-101") && !public.contains("4321"), "{public}");
    configfile::import(&db, ConfigFile::from_yaml(&public).unwrap(), false).await.unwrap();
    let account = accounts::by_slug(&db, "demo").await.unwrap().unwrap();
    let alice = cfg::get_by_key::<Agent>(&db, account.id, "101").await.unwrap().unwrap();
    assert_eq!(alice.spec.sip_password.as_deref(), Some("alice-sip-101"));

    // Edits in the file land: a changed field, a new queue, a removed tool list entry.
    let mut edited = exported.clone();
    edited.queues[1].wrap_up_seconds = 45;
    edited.queues[1].strategy = QueueStrategy::RoundRobin;
    let mut returns = edited.queues[0].clone();
    returns.name = "returns".into();
    returns.overflow_target = None;
    returns.voicemail_box = None;
    edited.queues.push(returns);
    edited.audio.clear();
    edited.voicemail_boxes[0].greeting = None;
    let summary = configfile::import(&db, edited.clone(), false).await.unwrap();
    assert_eq!(summary.created.get("queues"), Some(&1));
    assert_eq!(summary.updated.get("queues"), Some(&1));
    assert_eq!(summary.deleted.get("audio"), Some(&1));
    let after = configfile::export(&db, "demo", true).await.unwrap();
    assert_eq!(after, edited.clone().normalized());

    // A file with problems is rejected whole, with every problem and its path.
    let mut bad = after.clone();
    bad.queues[2].wrap_up_seconds = 5000;
    bad.queues[0].name = "Bad Name".into();
    bad.agents[0].queues[0].queue = "gone".into();
    bad.phone_numbers[0].number = "555-0100".into();
    let err = configfile::import(&db, bad, false).await.unwrap_err();
    let switchboard::Error::Invalid(problems) = err else { panic!("expected problems") };
    let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    for expected in [
        "queues[2].wrap_up_seconds: must be 0..=3600",
        "queues[0].name: may contain only lowercase letters, digits, '-' and '_'",
        "agents[0].queues[0].queue: refers to queue 'gone', which does not exist",
        "phone_numbers[0].number: must be an E.164 number such as +15551234567",
    ] {
        assert!(text.iter().any(|t| t == expected), "missing '{expected}' in {text:?}");
    }
    assert_eq!(
        configfile::export(&db, "demo", true).await.unwrap(),
        after,
        "a rejected import changed something"
    );

    // A new account from a file; its DIDs may not collide with another account's.
    let mut copy = after.clone();
    copy.account = "copy".into();
    let err = configfile::import(&db, copy.clone(), false).await.unwrap_err();
    assert!(err.to_string().contains("belongs to another account"), "{err}");
    assert!(accounts::by_slug(&db, "copy").await.unwrap().is_none());
    for n in &mut copy.phone_numbers {
        n.number = n.number.replace("+1555", "+1777");
    }
    let summary = configfile::import(&db, copy.clone(), false).await.unwrap();
    assert!(summary.account_created);
    assert_eq!(configfile::export(&db, "copy", true).await.unwrap(), copy.normalized());
}

#[tokio::test]
async fn export_import_round_trip_and_all_or_nothing() {
    on_each_db(round_trip).await;
}
