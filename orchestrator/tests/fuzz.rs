//! Hostile input never takes Switchboard down: a bounded, seeded, deterministic fuzz run of
//! every orchestrator parser of input someone else controls, inside the normal `cargo test`.
//!
//! Each target in `switchboard::fuzzing` is fed real inputs (the demo account as request
//! bodies and as a config-as-code document, the integration tests' bodies, headers and
//! queries, callers' words and model replies) and a fixed number of structure-aware mutations
//! of them, the same every run. A failure prints the input; add it as a case below and fix
//! the parser.

use serde_json::json;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};
use switchboard::configfile::ConfigFile;
use switchboard::fuzzing::{self, Mutator};

type Seeds = Vec<(String, Vec<u8>)>;

fn seeds(items: &[&str]) -> Seeds {
    items.iter().map(|s| (format!("{:.40}", s), s.as_bytes().to_vec())).collect()
}

/// Runs one input; a panic is reported with the input, ready to paste as a regression case.
fn check(target: &str, run: fn(&[u8]), input: &[u8], what: &str) {
    if catch_unwind(AssertUnwindSafe(|| run(input))).is_err() {
        panic!(
            "fuzz target {target} panicked on {what} ({} bytes):\n{}\n",
            input.len(),
            input.escape_ascii()
        );
    }
}

/// The seeds, then `iterations` mutations of them, from a fixed seed.
fn run(target: &str, run: fn(&[u8]), seeds: &Seeds, iterations: usize, seed: u64) {
    let started = Instant::now();
    let mut mutator = Mutator::new(seed);
    for (name, bytes) in seeds {
        check(target, run, bytes, name);
    }
    for i in 0..iterations {
        let (name, bytes) = &seeds[i % seeds.len()];
        let mut input = mutator.text(bytes);
        // Now and then, mutate a mutation: some bugs need two changes.
        if i % 4 == 3 {
            input = mutator.text(&input);
        }
        check(target, run, &input, &format!("mutation {i} of {name} (seed {seed})"));
    }
    eprintln!("{target}: {} inputs in {:.1?}", seeds.len() + iterations, started.elapsed());
}

/// Every entity of the demo account as the body that creates it, and the bodies the
/// integration tests send to the other endpoints.
fn bodies() -> Seeds {
    let demo = serde_json::to_value(switchboard::demo::config()).unwrap();
    let mut out = Seeds::new();
    for (section, items) in demo.as_object().unwrap() {
        for (i, item) in items.as_array().into_iter().flatten().enumerate() {
            out.push((format!("{section}[{i}]"), item.to_string().into_bytes()));
        }
    }
    out.push(("settings".into(), demo["settings"].to_string().into_bytes()));
    for (name, body) in [
        ("login", json!({"email": "admin@acme.example", "password": "correct-horse-battery"})),
        (
            "user",
            json!({"email": "target@acme.example", "name": "Target", "role": "agent", "password": "pw-123456789"}),
        ),
        ("token", json!({"name": "ci", "role": "agent"})),
        (
            "customer",
            json!({"name": "Pat Doe", "phones": [{"number": "+12025550999", "label": "home"}], "emails": ["pat@doe.example"]}),
        ),
        (
            "order",
            json!({"customer_id": 1, "number": "9001", "status": "shipped", "items": [{"sku": "A", "name": "Thing", "quantity": 2, "unit_price_cents": 500}], "carrier": "UPS", "tracking_number": "1Z1", "shipping_cents": 500, "tax_cents": 20, "placed_at": 1_700_000_000_000i64}),
        ),
        ("ticket", json!({"customer_id": 1, "subject": "Broken zip", "status": "open", "priority": "high"})),
        ("note", json!({"kind": "advice", "text": "Offer express shipping"})),
        ("takeover", json!({"extension": "101"})),
    ] {
        out.push((name.into(), body.to_string().into_bytes()));
    }
    out
}

#[test]
fn json_body() {
    let seeds = bodies();
    run("json_body", fuzzing::json_body, &seeds, 6_000, 1);
}

#[test]
fn query() {
    let seeds = seeds(&[
        "phone=%2B12025550999&limit=10&offset=0",
        "email=pat%40doe.example&q=Pat",
        "customer_id=1&number=9001&limit=1000&offset=5",
        "customer_id=1&open=true",
        "agent_extension=101&limit=50",
        "limit=lots",
        "from=1796371300350&to=1796371400000&direction=inbound&disposition=voicemail",
        "number=%2B44%2020%207946&queue=returns_50%25&has_recording=true&has_voicemail=false&q=kettle",
    ]);
    run("query", fuzzing::query, &seeds, 8_000, 2);
}

/// The demo account as `switchboard export` writes it, and a document with problems.
fn documents() -> Seeds {
    let demo = switchboard::demo::config().normalized().to_yaml().unwrap();
    let with_problems = "account: shop\nsettings: { name: Shop }\nqueues:\n  - name: sales\n  - name: returns\n    \
        wrap_up_seconds: 5000\n    overflow_target: { type: voicemail_box, name: nowhere }\n  - name: sales\n";
    let anchors =
        "account: shop\nsettings: &s { name: Shop }\nqueues:\n  - &q { name: a }\n  - <<: *q\n    name: b\n";
    vec![
        ("demo export".into(), demo.into_bytes()),
        ("problems".into(), with_problems.as_bytes().to_vec()),
        ("anchors".into(), anchors.as_bytes().to_vec()),
    ]
}

#[test]
fn config_yaml() {
    // The demo document is large (every kind), so fewer mutations go a long way.
    run("config_yaml", fuzzing::config_yaml, &documents(), 800, 3);
}

#[test]
fn authorization_header() {
    let seeds = seeds(&["Bearer sbt_0123456789abcdef", "bearer   x  ", "Basic dXNlcjpwYXNz", "Bearer", ""]);
    run("authorization_header", fuzzing::authorization_header, &seeds, 20_000, 4);
}

#[test]
fn provisioning_request() {
    let seeds = seeds(&[
        "805ec0123456.cfg\nBasic ODA1ZWMwMTIzNDU2OnMzY3JldC1wYXNz",
        "cfg805EC0123456.xml\nbasic ODA6NWU6YzA6MTI6MzQ6NTY6czNjcmV0LXBhc3M=",
        "80:5e:c0:12:34:56.cfg\nBasic ODA1ZWMwMTIzNDU2Og==",
        "y000000000000.cfg\nBearer x",
        "cfg.xml\n",
    ]);
    run("provisioning_request", fuzzing::provisioning_request, &seeds, 20_000, 12);
}

#[test]
fn cookie_header() {
    let seeds = seeds(&[
        "sb_session=0123456789abcdef",
        "theme=dark; sb_session=abc; other=1",
        "a=b;sb_session=;sb_session=x\nsb_session=y",
    ]);
    run("cookie_header", fuzzing::cookie_header, &seeds, 20_000, 5);
}

#[test]
fn range_header() {
    let seeds =
        seeds(&["bytes=0-99", "bytes=-10", "bytes=44-", "bytes=5-1", "bytes=0-1,4-5", "items=0-1\nbytes=9-"]);
    run("range_header", fuzzing::range_header, &seeds, 20_000, 8);
}

#[test]
fn live_command() {
    let seeds = seeds(&[r#"{"type":"open","id":3}"#, r#"{"type":"close"}"#, r#"{"type":"open"}"#]);
    run("live_command", fuzzing::live_command, &seeds, 20_000, 6);
}

#[test]
fn spoken_text() {
    let seeds = seeds(&[
        "Where is my order? My order number is 1 0 0 2.",
        "Sure, your order shipped on May 3, 2026, by UPS. It arrives Friday, I think. ",
        "Hello Mr. Smith. Your total is $12.50 today. Anything else? Thanks",
        "It's pat at doe dot com. I want to talk to a real person, this is a scam!",
        "Can I talk to a person? Can I talk to a person? Can I talk to",
        "Order {number} is {status}; the tracking ends {tracking_end}.",
        "yeah. mm-hm, one zero zero two, call +15555550100 or #1042",
    ]);
    run("spoken_text", fuzzing::spoken_text, &seeds, 6_000, 7);
}

/// Documents that cost a naive parser its memory or its stack: an alias bomb ("billion
/// laughs") where any JSON value is accepted (a tool's parameters schema), deep flow and block
/// nesting, a huge flat document. Each is refused (or read) quickly. (libyaml's scanner is
/// quadratic in the depth of flow mappings, `{a: {a: ...`: 40 000 levels, 160 kB, take about
/// 8 s in a release build before the recursion limit refuses them; `switchboard import` reads
/// files the operator chose, never network input. See ARCHITECTURE.md, Testing.)
#[test]
fn expensive_documents_are_refused_quickly() {
    let mut bomb = String::from(
        "account: shop\nsettings: { name: Shop }\ntools:\n  - name: t\n    description: d\n    \
         implementation: { type: builtin, builtin: lookup_order }\n    parameters:\n      a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n",
    );
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        bomb.push_str(&format!("      a{i}: &a{i} [{refs}]\n"));
    }
    // Anything nests under a tool's parameters (a JSON schema), so the depth is what refuses.
    let tool = |value: &str| {
        format!(
            "account: shop\nsettings: {{ name: Shop }}\ntools:\n  - name: t\n    description: d\n    \
             implementation: {{ type: builtin, builtin: lookup_order }}\n    parameters: {value}\n"
        )
    };
    let deep_flow = tool(&format!("{}{}", "[".repeat(2_000), "]".repeat(2_000)));
    let deep_maps = tool(&"{a: ".repeat(2_000));
    let deep_block = tool(&format!("\n      {}x", "- ".repeat(20_000)));
    let mut many = String::from("account: shop\nsettings: { name: Shop }\nqueues:\n");
    for i in 0..20_000 {
        many.push_str(&format!("  - name: q{i}\n"));
    }
    for (name, doc) in [
        ("alias bomb", bomb),
        ("deep flow", deep_flow),
        ("deep flow mappings", deep_maps),
        ("deep block", deep_block),
        ("20 000 queues", many),
    ] {
        let started = Instant::now();
        check("config_yaml", fuzzing::config_yaml, doc.as_bytes(), name);
        let result = ConfigFile::from_yaml(&doc);
        let took = started.elapsed();
        assert!(took < Duration::from_secs(10), "{name} took {took:?}");
        match result {
            Ok(file) => assert_eq!(file.queues.len(), 20_000, "{name}"),
            Err(e) => eprintln!("{name}: refused in {took:.1?}: {e}"),
        }
    }
    let deep_json = format!("{}{}", "[".repeat(1_000_000), "]".repeat(1_000_000));
    check("json_body", fuzzing::json_body, deep_json.as_bytes(), "a million nested arrays");
}
