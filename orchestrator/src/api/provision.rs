//! Desk-phone provisioning: a phone configured with `http(s)://<switchboard>/provision/` as its
//! provisioning server fetches its file by MAC address (Yealink `{mac}.cfg`, Grandstream
//! `cfg{mac}.xml`) and gets its agent's SIP account. Each phone is protected on its own: its
//! provisioning password (HTTP basic authentication, user name = the MAC) and/or the addresses
//! it may fetch from. An unknown MAC is 404; a known one without its credentials 401, from a
//! wrong address 403 (both logged with the address, never the password).

use super::AppState;
use crate::model::deskphone::{address_allowed, normalize_mac};
use crate::model::{Agent, PhoneVendor};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use std::net::{IpAddr, SocketAddr};

/// The file a phone asks for: its MAC and the format.
pub fn requested(file: &str) -> Option<(String, PhoneVendor)> {
    if let Some(mac) = file.strip_suffix(".cfg") {
        return normalize_mac(mac).filter(|m| m.len() == mac.len()).map(|m| (m, PhoneVendor::Yealink));
    }
    let mac = file.strip_prefix("cfg")?.strip_suffix(".xml")?;
    normalize_mac(mac).filter(|m| m.len() == mac.len()).map(|m| (m, PhoneVendor::Grandstream))
}

/// Whether the request carries the phone's basic credentials (user = MAC, the password).
pub fn authenticated(headers: &HeaderMap, mac: &str, password: &str) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
    let Some(encoded) = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic ")) else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else { return false };
    let Ok(text) = String::from_utf8(decoded) else { return false };
    let Some((user, pass)) = text.split_once(':') else { return false };
    let user_ok = normalize_mac(user).as_deref() == Some(mac);
    // Compared in constant time (the password is a secret).
    let pass_ok = pass.len() == password.len()
        && pass.bytes().zip(password.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    user_ok && pass_ok
}

fn escape_xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// Yealink's `.cfg` (its "common" key = value format).
pub fn yealink(agent: &Agent, server: &str, port: u16) -> String {
    let password = agent.sip_password.clone().unwrap_or_default();
    let user = agent.sip_username();
    // Values are one line each: no line breaks from the configuration reach the file.
    let one_line = |s: &str| s.replace(['\r', '\n'], " ");
    format!(
        "#!version:1.0.0.1\n\
         ## Switchboard: extension {ext} ({name})\n\
         account.1.enable = 1\n\
         account.1.label = {ext}\n\
         account.1.display_name = {name}\n\
         account.1.auth_name = {user}\n\
         account.1.user_name = {user}\n\
         account.1.password = {password}\n\
         account.1.sip_server.1.address = {server}\n\
         account.1.sip_server.1.port = {port}\n\
         account.1.sip_server.1.transport_type = 0\n\
         account.1.sip_server.1.expires = 600\n\
         account.1.dtmf.type = 1\n\
         account.1.codec.pcmu.enable = 1\n\
         account.1.codec.pcma.enable = 1\n",
        ext = agent.extension,
        name = one_line(&agent.display_name),
        user = one_line(user),
        password = one_line(&password),
    )
}

/// Grandstream's XML (P-values: 271 account active, 270 account name, 47 SIP server, 35 user
/// ID, 36 authenticate ID, 34 password, 3 display name, 32 registration expiry in minutes).
pub fn grandstream(agent: &Agent, mac: &str, server: &str, port: u16) -> String {
    let x = |s: &str| escape_xml(s);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <gs_provision version=\"1\">\n  <mac>{mac}</mac>\n  <config version=\"1\">\n\
         \x20   <P271>1</P271>\n    <P270>{label}</P270>\n    <P47>{server}:{port}</P47>\n\
         \x20   <P35>{user}</P35>\n    <P36>{user}</P36>\n    <P34>{password}</P34>\n\
         \x20   <P3>{name}</P3>\n    <P32>10</P32>\n  </config>\n</gs_provision>\n",
        label = x(&format!("{} {}", agent.extension, agent.display_name)),
        server = x(server),
        user = x(agent.sip_username()),
        password = x(agent.sip_password.as_deref().unwrap_or_default()),
        name = x(&agent.display_name),
    )
}

/// Where the phone's SIP goes: the SIP engine's own address, or when it listens on every
/// address, the host the phone used to reach us.
fn sip_server(st: &AppState, headers: &HeaderMap) -> (String, u16) {
    let bound = st.sip.as_ref().map(|s| s.local_addr());
    let port = bound.map(|a| a.port()).unwrap_or(5060);
    match bound.map(|a| a.ip()) {
        Some(ip) if !ip.is_unspecified() => (ip.to_string(), port),
        _ => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
            let host = match host.rsplit_once(':') {
                Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(':') => h,
                _ => host,
            };
            (host.trim_start_matches('[').trim_end_matches(']').to_string(), port)
        }
    }
}

pub async fn serve(State(st): State<AppState>, Path(file): Path<String>, parts: Parts) -> Response {
    let Some((mac, vendor)) = requested(&file) else { return StatusCode::NOT_FOUND.into_response() };
    let peer: Option<IpAddr> = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let found = match crate::store::config::desk_phone_owner(&st.db, &mac).await {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "provisioning: reading the agents failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let Some((account, agent, phone)) = found.filter(|(_, _, p)| p.vendor == vendor) else {
        tracing::info!(%mac, address = ?peer, "provisioning: unknown phone");
        return StatusCode::NOT_FOUND.into_response();
    };
    if !phone.allowed_addresses.is_empty() {
        let allowed = peer.is_some_and(|ip| phone.allowed_addresses.iter().any(|a| address_allowed(a, ip)));
        if !allowed {
            tracing::warn!(%mac, address = ?peer, "provisioning refused: the phone's address is not allowed");
            return StatusCode::FORBIDDEN.into_response();
        }
    }
    if let Some(password) = &phone.provisioning_password {
        if !authenticated(&parts.headers, &mac, password) {
            tracing::warn!(%mac, address = ?peer, "provisioning refused: no or wrong credentials");
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Basic realm=\"switchboard provisioning\"")],
            )
                .into_response();
        }
    }
    let (server, port) = sip_server(&st, &parts.headers);
    tracing::info!(%mac, account, extension = %agent.extension, address = ?peer, "desk phone provisioned");
    let (body, mime) = match vendor {
        PhoneVendor::Yealink => (yealink(&agent, &server, port), "text/plain; charset=utf-8"),
        PhoneVendor::Grandstream => (grandstream(&agent, &mac, &server, port), "application/xml"),
    };
    ([(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, "no-store")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_say_the_mac_and_the_format() {
        assert_eq!(requested("001565aabbcc.cfg"), Some(("001565aabbcc".into(), PhoneVendor::Yealink)));
        assert_eq!(requested("001565AABBCC.cfg"), Some(("001565aabbcc".into(), PhoneVendor::Yealink)));
        assert_eq!(requested("cfg000b82aabbcc.xml"), Some(("000b82aabbcc".into(), PhoneVendor::Grandstream)));
        assert_eq!(requested("y000000000028.cfg"), None, "Yealink's common file is not a MAC");
        assert_eq!(requested("00:15:65:aa:bb:cc.cfg"), None);
        assert_eq!(requested("../secret.key"), None);
    }

    #[test]
    fn only_the_phones_own_credentials_pass() {
        let mut h = HeaderMap::new();
        let basic = |u: &str, p: &str| {
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}")))
        };
        assert!(!authenticated(&h, "001565aabbcc", "provision-me"));
        h.insert(header::AUTHORIZATION, basic("001565AABBCC", "provision-me").parse().unwrap());
        assert!(authenticated(&h, "001565aabbcc", "provision-me"));
        assert!(!authenticated(&h, "001565aabbcc", "provision-mf"));
        assert!(!authenticated(&h, "001565aabbcd", "provision-me"));
    }

    #[test]
    fn grandstream_values_are_escaped() {
        let agent: Agent = serde_json::from_value(serde_json::json!({
            "extension": "101", "display_name": "Ann <&> Co", "sip_password": "p<w>&\"d1"
        }))
        .unwrap();
        let xml = grandstream(&agent, "000b82aabbcc", "pbx.example", 5060);
        assert!(xml.contains("<P3>Ann &lt;&amp;&gt; Co</P3>"), "{xml}");
        assert!(xml.contains("<P34>p&lt;w&gt;&amp;&quot;d1</P34>"), "{xml}");
        assert!(xml.contains("<P47>pbx.example:5060</P47>"), "{xml}");
        let cfg = yealink(&agent, "pbx.example", 5060);
        assert!(
            cfg.contains("account.1.user_name = 101\n")
                && cfg.contains("account.1.sip_server.1.port = 5060\n")
        );
    }
}
