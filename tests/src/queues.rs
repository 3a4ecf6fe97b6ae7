//! Queues set up through the API for the queue tests.

use crate::{get_json, Server};
use serde_json::{json, Value};

/// Creates a queue (`spec` is the API's queue object).
pub async fn create(client: &reqwest::Client, server: &Server, admin: &str, spec: &Value) {
    let r = client.post(server.url("/api/queues")).header("cookie", admin).json(spec).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
}

/// Changes queue `name` through the API (the whole queue is replaced with the changed copy).
pub async fn change(
    client: &reqwest::Client,
    server: &Server,
    admin: &str,
    name: &str,
    change: impl FnOnce(&mut Value),
) {
    let queues = get_json(client, server, admin, "/api/queues").await;
    let queue = queues.as_array().unwrap().iter().find(|q| q["name"] == name).cloned();
    let mut queue = queue.unwrap_or_else(|| panic!("no queue {name}: {queues}"));
    let id = queue["id"].clone();
    for field in ["id", "created_at", "updated_at"] {
        queue.as_object_mut().unwrap().remove(field);
    }
    change(&mut queue);
    let r = client.put(server.url(&format!("/api/queues/{id}"))).header("cookie", admin).json(&queue);
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
}

/// Puts an existing agent in `queue` as well, at `priority` (the API replaces the whole agent).
pub async fn join(
    client: &reqwest::Client,
    server: &Server,
    admin: &str,
    extension: &str,
    queue: &str,
    priority: u32,
) {
    let agents = get_json(client, server, admin, "/api/agents").await;
    let mut agent = agents.as_array().unwrap().iter().find(|a| a["extension"] == extension).cloned().unwrap();
    let id = agent["id"].clone();
    for field in ["id", "created_at", "updated_at", "sip_password"] {
        agent.as_object_mut().unwrap().remove(field);
    }
    agent["queues"].as_array_mut().unwrap().push(json!({"queue": queue, "priority": priority}));
    let r = client.put(server.url(&format!("/api/agents/{id}"))).header("cookie", admin).json(&agent);
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
}
