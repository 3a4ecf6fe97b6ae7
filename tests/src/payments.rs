//! Card payments in end-to-end tests: a payment processor speaking the Stripe-compatible token
//! and charge API, and the canary card number looked for where it must not be.

use serde_json::json;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A card number that passes the Luhn check and appears nowhere by chance.
pub const CANARY: &str = "4000056655665556";

/// What the processor was sent: (path, authorization, body).
pub type Requests = Arc<Mutex<Vec<(String, String, String)>>>;

/// A payment processor speaking the Stripe-compatible API (HTTP/1.1, form bodies, JSON back).
pub async fn processor() -> (String, Requests) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests: Requests = Arc::default();
    let seen = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = stream.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let Some((head, body)) = text.split_once("\r\n\r\n") else { continue };
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().to_string())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() < length {
                        continue;
                    }
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                    let auth = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().starts_with("authorization:").then(|| l.to_string())
                        })
                        .unwrap_or_default();
                    seen.lock().unwrap().push((path.clone(), auth, body.to_string()));
                    let reply = if path == "/v1/tokens" {
                        json!({"id": "tok_canary", "object": "token",
                               "card": {"brand": "Visa", "last4": "5556", "exp_month": 12, "exp_year": 2030}})
                    } else {
                        json!({"id": "ch_canary", "object": "charge", "status": "succeeded", "paid": true})
                    };
                    let body = reply.to_string();
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    return;
                }
            });
        }
    });
    (url, requests)
}

/// Whether `text` holds the canary: as digits with anything between them (spaces, dashes,
/// JSON), or spoken as words.
pub fn holds_canary(text: &str) -> bool {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
    let spoken: Vec<&str> = CANARY.bytes().map(|b| words[(b - b'0') as usize]).collect();
    digits.contains(CANARY) || text.to_lowercase().contains(&spoken[..8].join(" "))
}

/// Adds the account's payment gateway (named `stripe`) pointing at `url`, as an admin.
pub async fn add_gateway(client: &reqwest::Client, server: &crate::Server, admin: &str, url: &str) {
    let gateway =
        json!({"name": "stripe", "api_url": url, "secret_key": "sk_test_switchboard", "currency": "usd"});
    let r = client
        .post(server.url("/api/payment_gateways"))
        .header("cookie", admin)
        .json(&gateway)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}
