//! The live view of AI calls over HTTP and WebSocket, on both databases: supervisors of an
//! account see its engagements and nothing of another account's; agents get neither the REST
//! endpoints nor the feed; notes and takeovers reach only their own account's calls.

use crate::common::on_each_db;
use crate::role_matrix::fixture;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::time::Duration;
use switchboard::live::{Command, Live, Start};
use switchboard::model::Role;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn engagement(
    live: &Live,
    account: i64,
    caller: &str,
) -> (switchboard::live::LiveCall, switchboard::live::Inbox) {
    live.start(Start {
        account,
        call_id: None,
        caller: Some(caller.into()),
        customer: None,
        agent: "assistant".into(),
        brain: "llm".into(),
        record: None,
    })
}

type Feed = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open_feed(addr: std::net::SocketAddr, cookie: &str) -> Result<Feed, String> {
    let mut req = format!("ws://{addr}/api/live/feed").into_client_request().unwrap();
    req.headers_mut().insert("cookie", cookie.parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().to_string()),
        Err(e) => Err(e.to_string()),
    }
}

async fn next(feed: &mut Feed) -> Value {
    loop {
        let m =
            tokio::time::timeout(Duration::from_secs(5), feed.next()).await.expect("a message within 5 s");
        if let tokio_tungstenite::tungstenite::Message::Text(t) = m.unwrap().unwrap() {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

#[tokio::test]
async fn the_live_feed_is_for_supervisors_and_only_their_accounts_calls() {
    on_each_db(|db| async move {
        let ours = fixture(&db, "live-one", "+1555301").await;
        let theirs = fixture(&db, "live-two", "+1555302").await;
        let live = Live::new();
        let dir = std::env::temp_dir().join(format!("switchboard-live-{}", std::process::id()));
        let app = switchboard::api::app(
            db.clone(),
            switchboard::api::AppOptions { data_dir: dir, live: live.clone(), ..Default::default() },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
                .await
                .unwrap()
        });
        let (mine, mut my_inbox) = engagement(&live, ours.account_id, "+12025550100");
        let (other, _other_inbox) = engagement(&live, theirs.account_id, "+12025550199");

        // Agents: no feed, no REST.
        let agent = &ours.cookies[&Role::Agent];
        assert_eq!(open_feed(addr, agent).await.err().as_deref(), Some("403 Forbidden"));
        assert_eq!(open_feed(addr, "sb_session=nonsense").await.err().as_deref(), Some("401 Unauthorized"));
        let client = switchboard::tls::http_client().build().unwrap();
        let get = |cookie: &str, path: &str| {
            client.get(format!("http://{addr}{path}")).header("cookie", cookie).send()
        };
        assert_eq!(get(agent, "/api/live/calls").await.unwrap().status(), 403);

        // A supervisor: a snapshot of their account's calls only, then their updates only.
        let supervisor = &ours.cookies[&Role::Supervisor];
        let mut feed = open_feed(addr, supervisor).await.unwrap();
        let snapshot = next(&mut feed).await;
        assert_eq!(snapshot["type"], "snapshot");
        let tiles = snapshot["tiles"].as_array().unwrap();
        assert_eq!(tiles.len(), 1, "{snapshot}");
        assert_eq!(tiles[0]["caller"], "+12025550100");
        other.observed(
            "transcript",
            json!({"speaker": "caller", "text": "I want a person, this is ridiculous"}),
        );
        mine.observed("transcript", json!({"speaker": "caller", "text": "Where is my order?"}));
        let update = next(&mut feed).await;
        assert_eq!(
            (update["type"].as_str(), update["tile"]["id"].as_u64()),
            (Some("tile"), Some(mine.id())),
            "{update}"
        );
        // Details: only for the call opened, and never another account's.
        use futures_util::SinkExt;
        let send = |id: u64| {
            tokio_tungstenite::tungstenite::Message::Text(
                json!({"type": "open", "id": id}).to_string().into(),
            )
        };
        feed.send(send(other.id())).await.unwrap();
        assert_eq!(next(&mut feed).await["type"], "error");
        feed.send(send(mine.id())).await.unwrap();
        let detail = next(&mut feed).await;
        assert_eq!(detail["detail"]["transcript"][0]["text"], "Where is my order?", "{detail}");
        mine.partial("my order number is");
        let partial = next(&mut feed).await;
        assert_eq!(
            (partial["type"].as_str(), partial["line"]["partial"].as_bool()),
            (Some("transcript"), Some(true))
        );

        // REST: the same scoping; notes and takeovers reach only their own calls.
        let tiles: Value = get(supervisor, "/api/live/calls").await.unwrap().json().await.unwrap();
        assert_eq!(tiles.as_array().unwrap().len(), 1);
        let path = |id: u64, what: &str| format!("http://{addr}/api/live/calls/{id}/{what}");
        let post =
            |url: String, body: Value| client.post(url).header("cookie", supervisor).json(&body).send();
        let r = post(path(other.id(), "notes"), json!({"kind": "advice", "text": "hi"})).await.unwrap();
        assert_eq!(r.status(), 404);
        let r = post(path(mine.id(), "notes"), json!({"kind": "advice", "text": "  "})).await.unwrap();
        assert_eq!(r.status(), 422, "an empty note");
        let r = post(path(mine.id(), "notes"), json!({"kind": "advice", "text": "Offer express shipping"}))
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let note = my_inbox.notes.try_recv().unwrap();
        assert_eq!(note.text, "Offer express shipping");
        let r = post(path(mine.id(), "takeover"), json!({"extension": "999"})).await.unwrap();
        assert_eq!(r.status(), 422, "no such extension");
        // Without an extension: the one linked to the supervisor (102 in the fixture).
        let r = post(path(mine.id(), "takeover"), json!({})).await.unwrap();
        assert_eq!(r.status(), 202);
        match my_inbox.commands.try_recv().unwrap() {
            Command::TakeOver { extension, .. } => assert_eq!(extension, "102"),
            other => panic!("expected a takeover, got {other:?}"),
        }
        let r = post(path(mine.id(), "listen"), json!({"extension": "101"})).await.unwrap();
        assert_eq!(r.status(), 202);
        assert_eq!(
            my_inbox.commands.try_recv().unwrap(),
            Command::Listen { extension: "101".into(), by: "live-one supervisor".into() }
        );
        let r = post(path(other.id(), "listen"), json!({"extension": "101"})).await.unwrap();
        assert_eq!(r.status(), 404);
        let r = post(path(other.id(), "takeover"), json!({"extension": "101"})).await.unwrap();
        assert_eq!(r.status(), 404);

        // An engagement that ends leaves the feed.
        let id = mine.id();
        drop(mine);
        loop {
            let m = next(&mut feed).await;
            if m["type"] == "ended" {
                assert_eq!(m["id"].as_u64(), Some(id));
                break;
            }
        }
    })
    .await;
}
