//! The registrar's unit tests.
use super::*;
use crate::sip::digest;
use crate::sip::message::Method;

fn dir() -> Directory {
    Directory::new([
        SipUser {
            account: 1,
            domain: None,
            username: "101".into(),
            password: "alice-pw-101".into(),
            extension: "101".into(),
        },
        SipUser {
            account: 1,
            domain: None,
            username: "102".into(),
            password: "bob-pw-102".into(),
            extension: "102".into(),
        },
        SipUser {
            account: 2,
            domain: Some("other.example".into()),
            username: "102".into(),
            password: "x-pw".into(),
            extension: "102".into(),
        },
    ])
}

fn register(user: &str, cseq: u32, contact: &str, expires: Option<u32>, auth: Option<String>) -> Request {
    let mut r = Request::new(Method::Register, "sip:127.0.0.1");
    r.headers.push("Via", format!("SIP/2.0/UDP 10.0.0.9:5062;branch=z9hG4bK{cseq}"));
    r.headers.push("From", format!("<sip:{user}@127.0.0.1>;tag=abc"));
    r.headers.push("To", format!("<sip:{user}@127.0.0.1>"));
    r.headers.push("Call-ID", "reg-1");
    r.headers.push("CSeq", format!("{cseq} REGISTER"));
    r.headers.push("Contact", contact);
    if let Some(e) = expires {
        r.headers.push("Expires", e.to_string());
    }
    if let Some(a) = auth {
        r.headers.push("Authorization", a);
    }
    r
}

fn src() -> SocketAddr {
    "192.0.2.7:40000".parse().unwrap()
}

/// Challenge, then answer with `password`.
fn login(
    reg: &mut Registrar,
    now: u64,
    user: &str,
    password: &str,
    cseq: u32,
    contact: &str,
    expires: Option<u32>,
) -> Response {
    let d = dir();
    let r = reg.handle_register(now, &register(user, cseq, contact, expires, None), src(), "UDP", &d);
    assert_eq!(r.status, 401);
    let ch = r.headers.get("WWW-Authenticate").unwrap().to_string();
    let auth = digest::answer(&ch, "REGISTER", "sip:127.0.0.1", user, password, "c0ffee", 1).unwrap();
    reg.handle_register(now, &register(user, cseq + 1, contact, expires, Some(auth)), src(), "UDP", &d)
}

#[test]
fn registers_with_the_right_password_only() {
    let mut reg = Registrar::new(RegistrarConfig::default(), "k");
    let ok = login(&mut reg, 1_000, "101", "alice-pw-101", 1, "<sip:101@10.0.0.9:5062>", Some(120));
    assert_eq!(ok.status, 200);
    assert_eq!(ok.headers.get("Contact"), Some("<sip:101@10.0.0.9:5062>;expires=120"));
    let b = &reg.contacts(1, "101")[0];
    assert_eq!(b.source, src());
    assert!(matches!(reg.poll_event(), Some(RegistrarEvent::Registered { .. })));
    let bad = login(&mut reg, 1_000, "102", "wrong-password", 1, "<sip:102@10.0.0.9>", None);
    assert_eq!(bad.status, 403);
    assert!(reg.contacts(1, "102").is_empty());
    // Unknown users are challenged like everyone, then refused.
    assert_eq!(login(&mut reg, 1_000, "999", "whatever", 1, "<sip:999@x>", None).status, 403);
}

#[test]
fn multiple_contacts_expiry_and_removal() {
    let mut reg = Registrar::new(RegistrarConfig::default(), "k");
    login(&mut reg, 0, "101", "alice-pw-101", 1, "<sip:101@10.0.0.9:5062>", Some(60));
    login(&mut reg, 10_000, "101", "alice-pw-101", 1, "<sip:101@10.0.0.10:5062>;expires=300", None);
    assert_eq!(reg.contacts(1, "101").len(), 2);
    assert_eq!(reg.poll_timeout(), Some(60_000));
    reg.handle_timeout(59_999);
    assert_eq!(reg.contacts(1, "101").len(), 2);
    reg.handle_timeout(60_000);
    assert_eq!(reg.contacts(1, "101").len(), 1);
    // Too short an interval is refused with Min-Expires.
    let r = login(&mut reg, 20_000, "101", "alice-pw-101", 5, "<sip:101@10.0.0.11>", Some(10));
    assert_eq!((r.status, r.headers.get("Min-Expires")), (423, Some("60")));
    // Contact: * with Expires: 0 removes everything.
    let r = login(&mut reg, 30_000, "101", "alice-pw-101", 7, "*", Some(0));
    assert_eq!(r.status, 200);
    assert!(reg.contacts(1, "101").is_empty());
    assert_eq!(reg.poll_timeout(), None);
}

#[test]
fn repeated_failures_block_the_source() {
    let mut reg = Registrar::new(RegistrarConfig::default(), "k");
    for _ in 0..5 {
        assert_eq!(login(&mut reg, 1_000, "101", "guess", 1, "<sip:101@x>", None).status, 403);
    }
    // Even the right password is refused while blocked, without a challenge.
    let r = reg.handle_register(2_000, &register("101", 9, "<sip:101@x>", None, None), src(), "UDP", &dir());
    assert_eq!(r.status, 403);
    // Other addresses are unaffected; the block lifts after its time.
    reg.handle_timeout(400_000);
    assert_eq!(login(&mut reg, 400_000, "101", "alice-pw-101", 20, "<sip:101@x>", None).status, 200);
}

#[test]
fn stale_nonces_are_rechallenged_and_domains_pick_accounts() {
    let mut reg = Registrar::new(RegistrarConfig::default(), "k");
    let d = dir();
    let r = reg.handle_register(0, &register("101", 1, "<sip:101@x>", None, None), src(), "UDP", &d);
    let ch = r.headers.get("WWW-Authenticate").unwrap().to_string();
    let auth = digest::answer(&ch, "REGISTER", "sip:127.0.0.1", "101", "alice-pw-101", "c", 1).unwrap();
    let r = reg.handle_register(
        10 * 60 * 1000,
        &register("101", 2, "<sip:101@x>", None, Some(auth)),
        src(),
        "UDP",
        &d,
    );
    assert_eq!(r.status, 401);
    assert!(r.headers.get("WWW-Authenticate").unwrap().contains("stale=true"));
    // "102" exists in two accounts: the domain decides, the bare IP is ambiguous.
    assert_eq!(d.lookup("102", "other.example").map(|u| u.account), Some(2));
    assert_eq!(d.lookup("102", "127.0.0.1"), None);
    assert_eq!(d.lookup("101", "127.0.0.1").map(|u| u.account), Some(1));
}
#[test]
fn behind_a_trusted_proxy_the_phone_is_its_client_address() {
    let proxy: SocketAddr = "198.51.100.1:5070".parse().unwrap();
    let mut d = dir();
    d.trust(proxy.ip(), None, 1);
    let relayed = |client: &str, cseq, auth| {
        let mut r = register("101", cseq, "<sip:101@10.0.0.9:5062>", Some(120), auth);
        // The proxy's own Via on top; the phone's below, stamped where it came from.
        let (ip, port) = client.split_once(':').unwrap();
        let phone = format!("SIP/2.0/UDP 10.0.0.9:5062;rport={port};received={ip};branch=z9hG4bK{cseq}");
        r.headers.remove("Via");
        r.headers.push_front("Via", phone);
        r.headers.push_front("Via", "SIP/2.0/UDP 198.51.100.1:5070;branch=z9hG4bKp".to_string());
        r.headers.push("Path", format!("<sip:198.51.100.1:5070;lr;received=sip:{client}%3Btransport%3Dudp>"));
        r
    };
    let phone: SocketAddr = "203.0.113.5:61000".parse().unwrap();
    assert_eq!(client_address(&relayed("203.0.113.5:61000", 1, None), proxy, &d), phone);
    // An untrusted sender is not believed about who came before it.
    assert_eq!(client_address(&relayed("203.0.113.5:61000", 1, None), src(), &d), src());
    // Wrong passwords from one phone behind the proxy block that phone, not the proxy.
    let mut reg = Registrar::new(RegistrarConfig::default(), "k");
    for cseq in 1..=5 {
        let r = reg.handle_register(0, &relayed("203.0.113.66:5060", cseq, None), proxy, "UDP", &d);
        let ch = r.headers.get("WWW-Authenticate").unwrap().to_string();
        let bad = digest::answer(&ch, "REGISTER", "sip:127.0.0.1", "101", "guess", "c", 1).unwrap();
        let r = reg.handle_register(0, &relayed("203.0.113.66:5060", cseq, Some(bad)), proxy, "UDP", &d);
        assert_eq!(r.status, 403);
    }
    let r = reg.handle_register(0, &relayed("203.0.113.66:5060", 6, None), proxy, "UDP", &d);
    assert!(r.reason.contains("too many failed"), "{}", r.reason);
    let r = reg.handle_register(0, &relayed("203.0.113.5:61000", 7, None), proxy, "UDP", &d);
    let ch = r.headers.get("WWW-Authenticate").expect("another phone is only challenged").to_string();
    let auth = digest::answer(&ch, "REGISTER", "sip:127.0.0.1", "101", "alice-pw-101", "c", 1).unwrap();
    let r = reg.handle_register(0, &relayed("203.0.113.5:61000", 8, Some(auth)), proxy, "UDP", &d);
    assert_eq!(r.status, 200);
    // Its calls come from the proxy like a carrier's; its address behind it tells them apart.
    assert_eq!(reg.contacts(1, "101")[0].path_received(), Some(phone));
    assert!(reg.is_registered_behind(proxy, phone));
    assert!(!reg.is_registered_behind(proxy, "203.0.113.66:5060".parse().unwrap()));
    assert!(!reg.is_registered_behind(src(), phone), "another proxy");
    // A user registering straight to us with a Path that names the proxy and a carrier's
    // address does not make that carrier's calls look like a phone's.
    let carrier = "198.51.100.77:5060";
    let r = reg.handle_register(0, &relayed(carrier, 9, None), src(), "UDP", &d);
    let ch = r.headers.get("WWW-Authenticate").unwrap().to_string();
    let auth = digest::answer(&ch, "REGISTER", "sip:127.0.0.1", "101", "alice-pw-101", "c", 1).unwrap();
    let r = reg.handle_register(0, &relayed(carrier, 10, Some(auth)), src(), "UDP", &d);
    assert_eq!(r.status, 200, "registered");
    assert_eq!(reg.contacts(1, "101")[0].path_received(), Some(carrier.parse().unwrap()));
    assert!(
        !reg.is_registered_behind(proxy, carrier.parse().unwrap()),
        "the Path did not come from the proxy"
    );
}

#[test]
fn a_path_is_kept_given_back_and_routes_requests_to_the_device() {
    let mut reg = Registrar::new(RegistrarConfig::default(), "k");
    let d = dir();
    let with_path = |cseq, auth| {
        let mut r = register("101", cseq, "<sip:101@10.0.0.9:5062>", Some(120), auth);
        r.headers.push("Supported", "replaces, path");
        r.headers.push("Path", "<sip:198.51.100.1:5070;lr;received=sip:10.0.0.9:5062>");
        r
    };
    let r = reg.handle_register(0, &with_path(1, None), src(), "UDP", &d);
    let ch = r.headers.get("WWW-Authenticate").unwrap().to_string();
    let auth = digest::answer(&ch, "REGISTER", "sip:127.0.0.1", "101", "alice-pw-101", "c", 1).unwrap();
    let ok = reg.handle_register(0, &with_path(2, Some(auth)), src(), "UDP", &d);
    assert_eq!(ok.status, 200);
    assert_eq!(ok.headers.get("Path"), Some("<sip:198.51.100.1:5070;lr;received=sip:10.0.0.9:5062>"));
    let b = reg.contacts(1, "101")[0].clone();
    assert_eq!(b.path, ["sip:198.51.100.1:5070;lr;received=sip:10.0.0.9:5062"]);
    assert_eq!(b.next_hop(), "198.51.100.1:5070".parse().unwrap());
    assert_eq!(b.next_hop_transport(), "UDP");
    // The proxy's address is not a phone's (carriers come through it too).
    assert!(!reg.is_registered_source(src()) && !reg.is_registered_ip(src().ip()));
    // Without a path, requests go where the REGISTER came from; a bad Path is refused.
    assert_eq!(Binding { path: Vec::new(), ..b.clone() }.next_hop(), src());
    let bad = |cseq, auth| {
        let mut r = register("101", cseq, "<sip:101@10.0.0.30>", None, auth);
        r.headers.push("Path", "<sip:unterminated");
        r
    };
    let r = reg.handle_register(0, &bad(3, None), src(), "UDP", &d);
    let ch = r.headers.get("WWW-Authenticate").unwrap().to_string();
    let auth = digest::answer(&ch, "REGISTER", "sip:127.0.0.1", "101", "alice-pw-101", "c", 1).unwrap();
    assert_eq!(reg.handle_register(0, &bad(4, Some(auth)), src(), "UDP", &d).status, 400);
    assert_eq!(reg.contacts(1, "101").len(), 1, "nothing registered from a bad request");
}

#[test]
fn devices_registered_through_other_nodes_are_rung_too_without_events() {
    let mut reg = Registrar::new(RegistrarConfig::default(), "k");
    login(&mut reg, 0, "101", "alice-pw-101", 1, "<sip:101@10.0.0.9:5062>", Some(120));
    while reg.poll_event().is_some() {}
    let remote = |contact: &str| Binding {
        contact: contact.into(),
        source: "192.0.2.1:5060".parse().unwrap(),
        transport: "UDP".into(),
        expires_at_ms: 1,
        call_id: "x".into(),
        cseq: 1,
        user_agent: None,
        path: vec!["sip:192.0.2.1:5060;lr".into()],
        username: String::new(),
    };
    reg.set_remote([
        (1, "101".to_string(), remote("sip:101@10.0.0.20:5062")),
        // The same device as a local binding (it moved here): counted once, the local one.
        (1, "101".to_string(), remote("sip:101@10.0.0.9:5062")),
        (1, "102".to_string(), remote("sip:102@10.0.0.21:5062")),
    ]);
    let contacts: Vec<&str> = reg.contacts(1, "101").iter().map(|b| b.contact.as_str()).collect();
    assert_eq!(contacts, ["sip:101@10.0.0.9:5062", "sip:101@10.0.0.20:5062"]);
    assert_eq!(reg.contacts(1, "101")[0].source, src());
    assert_eq!(reg.contacts(1, "102").len(), 1);
    assert!(reg.local_contacts(1, "102").is_empty());
    assert_eq!(reg.all().count(), 1, "only this node's registrations");
    assert_eq!(reg.remote().count(), 2, "less the device registered here too");
    // Remote bindings neither expire here nor raise events; a new set replaces the old.
    reg.handle_timeout(10_000);
    assert_eq!(reg.contacts(1, "102").len(), 1);
    assert!(reg.poll_event().is_none());
    reg.set_remote([]);
    assert!(reg.contacts(1, "102").is_empty());
}

#[test]
fn a_user_who_leaves_their_extension_is_no_longer_registered_there() {
    let user = |username: &str, extension: &str| SipUser {
        account: 1,
        domain: None,
        username: username.into(),
        password: format!("{username}-pw"),
        extension: extension.into(),
    };
    let directory = Directory::new([user("101", "101"), user("web104-a1", "104")]);
    let mut reg = Registrar::new(RegistrarConfig::default(), "k");
    for (name, contact) in [("101", "<sip:101@10.0.0.9:5062>"), ("web104-a1", "<sip:x@10.0.0.9:5064>")] {
        let r =
            reg.handle_register(0, &register(name, 1, contact, Some(300), None), src(), "UDP", &directory);
        let ch = r.headers.get("WWW-Authenticate").unwrap().to_string();
        let auth = digest::answer(&ch, "REGISTER", "sip:127.0.0.1", name, &format!("{name}-pw"), "c0ffee", 1)
            .unwrap();
        let ok = reg.handle_register(
            0,
            &register(name, 2, contact, Some(300), Some(auth)),
            src(),
            "UDP",
            &directory,
        );
        assert_eq!(ok.status, 200, "{name}");
    }
    assert_eq!(reg.contacts(1, "104")[0].username, "web104-a1");
    let remote = Binding { username: String::new(), ..reg.contacts(1, "101")[0].clone() };
    reg.set_remote([(1, "103".to_string(), Binding { contact: "sip:103@10.0.0.30".into(), ..remote })]);
    while reg.poll_event().is_some() {}
    // Unchanged users keep their registrations (a user name matches in any case, as at login).
    reg.prune(&directory);
    reg.prune(&Directory::new([user("101", "101"), user("WEB104-A1", "104")]));
    assert_eq!((reg.contacts(1, "101").len(), reg.contacts(1, "104").len()), (1, 1));
    assert!(reg.poll_event().is_none());
    // 101 is disabled (gone from the directory); the browser's user moves to extension 105.
    reg.prune(&Directory::new([user("web104-a1", "105")]));
    assert!(reg.contacts(1, "101").is_empty());
    assert!(reg.contacts(1, "104").is_empty());
    let mut gone: Vec<String> = std::iter::from_fn(|| reg.poll_event())
        .map(|e| match e {
            RegistrarEvent::Unregistered { extension, contact, .. } => format!("{extension} {contact}"),
            other => panic!("{other:?}"),
        })
        .collect();
    gone.sort();
    assert_eq!(gone, ["101 sip:101@10.0.0.9:5062", "104 sip:x@10.0.0.9:5064"].map(String::from).to_vec());
    assert!(!reg.is_registered_source(src()), "the index was rebuilt");
    // Another node's device is that node's to end.
    assert_eq!(reg.contacts(1, "103").len(), 1);
}
