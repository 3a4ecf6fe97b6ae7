//! SIP over WebSocket (RFC 7118) on the HTTP port, at `/sip` with the `sip` subprotocol: each
//! WebSocket message is one SIP message, handed to the SIP engine as transport `WS` (`WSS` on the
//! HTTPS listener). Phones authenticate with SIP digest like any other; browsers use this for
//! the softphone.

use super::AppState;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use switchboard_telephony::driver::SipHandle;

/// Marks requests that came in over TLS (the HTTPS listener adds it).
#[derive(Debug, Clone, Copy)]
pub struct Secure;

pub async fn upgrade(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    secure: Option<axum::Extension<Secure>>,
    ws: WebSocketUpgrade,
) -> Response {
    let transport = if secure.is_some() { "WSS" } else { "WS" };
    let Some(sip) = st.sip.clone() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "SIP is not running").into_response();
    };
    ws.protocols(["sip"])
        .max_message_size(switchboard_telephony::sip::parse::MAX_MESSAGE)
        .on_upgrade(move |socket| session(socket, sip, peer, transport))
}

async fn session(socket: WebSocket, sip: SipHandle, peer: SocketAddr, transport: &'static str) {
    let Some(mut link) = sip.attach_stream(peer, transport).await else { return };
    let (mut to_phone, mut from_phone) = socket.split();
    loop {
        tokio::select! {
            incoming = from_phone.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if !link.deliver(text.as_bytes().to_vec()).await {
                        break;
                    }
                }
                Some(Ok(Message::Binary(bytes))) => {
                    if !link.deliver(bytes.to_vec()).await {
                        break;
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
            },
            outgoing = link.from_driver.recv() => match outgoing {
                Some(bytes) => {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    if to_phone.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
        }
    }
    link.close().await;
}
