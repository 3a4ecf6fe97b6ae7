//! The demo account: a small outdoor-gear shop with a phone tree, two human agents, an AI
//! order assistant and a few dozen customers with orders. Loaded by `serve --demo`; loading
//! is idempotent (an existing demo account is left as the merchant changed it).

use crate::configfile::{self, ConfigFile};
use crate::db::Db;
use crate::error::Result;
use crate::model::*;
use crate::store::commerce::{
    self, CustomerInput, CustomerPhone, OrderInput, OrderItem, OrderStatus, TicketInput,
};
use crate::store::{accounts, users};

pub const ACCOUNT: &str = "demo";
/// Password of every demo login (printed at start-up; demo only).
pub const PASSWORD: &str = "switchboard-demo";
pub const MAIN_NUMBER: &str = "+15555550100";
pub const AI_NUMBER: &str = "+15555550101";

/// A demo login or SIP credential, for the start-up banner.
pub struct Login {
    pub what: String,
    pub user: String,
    pub secret: String,
}

fn text(t: &str) -> Prompt {
    Prompt::Text { text: t.into(), voice: None }
}

fn vm(name: &str, description: &str) -> VoicemailBox {
    VoicemailBox {
        name: name.into(),
        description: description.into(),
        pin: Some("4321".into()),
        greeting: None,
        notify_email: None,
        max_message_seconds: 180,
        transcribe: true,
        after_message: None,
    }
}

fn queue(name: &str, description: &str, greeting: &str) -> Queue {
    Queue {
        name: name.into(),
        description: description.into(),
        strategy: QueueStrategy::LongestIdle,
        greeting: Some(text(greeting)),
        hold_music: None,
        announce_position: true,
        announce_wait_time: true,
        announce_every_seconds: 60,
        ring_timeout_seconds: 20,
        wrap_up_seconds: 15,
        max_wait_seconds: 600,
        overflow_target: Some(Target::VoicemailBox { name: name.into() }),
        voicemail_box: Some(name.into()),
        opt_out_digit: None,
        recording: RecordingPreference::Inherit,
        service_level_seconds: 20,
        max_missed_offers: 3,
        coach: Some(coach()),
    }
}

/// The demo queues' coach: the usual checklist and a few written answers (no LLM).
pub fn coach() -> CoachSettings {
    let answer = |when: &[&str], say: &str| CoachAnswer {
        when: when.iter().map(|s| s.to_string()).collect(),
        say: say.into(),
    };
    CoachSettings {
        enabled: true,
        checklist: CoachSettings::standard_checklist(),
        answers: vec![
            answer(
                &[
                    "how do I return something",
                    "I'd like to send something back",
                    "I want to return an item",
                    "I want a refund",
                    "what is your return policy",
                ],
                "Returns are free within 30 days: we email a prepaid label, and the refund reaches the card \
                 within 5 business days of the parcel arriving.",
            ),
            answer(
                &["how long does shipping take", "when will it arrive", "how fast do you deliver"],
                "Standard shipping takes 3 to 5 business days; express (USD 15) arrives the next business day \
                 when ordered before 2 pm.",
            ),
            answer(
                &["it arrived broken", "the item is damaged", "something is missing from my order"],
                "Apologise, offer a free replacement or a refund, and open a ticket with photos if the caller \
                 has them; no need to send the broken item back.",
            ),
        ],
        llm: None,
    }
}

fn agent(ext: &str, name: &str, password: &str, queues: &[(&str, u8)]) -> Agent {
    Agent {
        extension: ext.into(),
        display_name: name.into(),
        sip_username: None,
        sip_password: Some(password.into()),
        email: None,
        queues: queues.iter().map(|(q, p)| QueueMembership { queue: (*q).into(), priority: *p }).collect(),
        voicemail_box: Some(format!("ext-{ext}")),
        recording: RecordingPreference::Always,
        forwarding: Forwarding {
            on_no_answer: Some(Target::VoicemailBox { name: format!("ext-{ext}") }),
            no_answer_seconds: 20,
            ..Forwarding::default()
        },
        class_of_service: Some("national".into()),
        lines: 2,
        desk_phones: Vec::new(),
    }
}

/// The demo account's configuration (what `export --account demo` gives after a fresh load).
pub fn config() -> ConfigFile {
    let mut settings = AccountSettings::new("Acme Outdoor Supply");
    settings.time_zone = "America/New_York".into();
    settings.caller_id = Some(MAIN_NUMBER.into());
    settings.billing_email = Some("billing@acme-outdoor.example".into());
    let mut f = ConfigFile::empty(ACCOUNT, settings);
    f.classes_of_service = vec![ClassOfService {
        name: "national".into(),
        description: "Internal and national calls".into(),
        allow_internal: true,
        allow_national: true,
        allow_international: false,
        allow_premium: false,
        max_call_minutes: Some(120),
        blocked_prefixes: vec!["+1900".into()],
        block_outbound: false,
        outbound_hours: None,
    }];
    f.voicemail_boxes = vec![
        vm("after-hours", "Messages left outside business hours"),
        vm("sales", "Sales team"),
        vm("support", "Support team"),
        vm("ext-101", "Alice Nguyen"),
        vm("ext-102", "Bob Martinez"),
    ];
    f.audio = vec![AudioEntry {
        name: "closed".into(),
        description: "After-hours announcement".into(),
        tts_text: Some(
            "Thanks for calling Acme Outdoor Supply. We are closed right now. Our hours are nine to five, \
             Monday to Friday, Eastern time. Please leave a message after the tone."
                .into(),
        ),
        voice: None,
        file: None,
        loop_playback: false,
    }];
    f.voicemail_boxes[0].greeting = Some(Prompt::Audio { name: "closed".into() });
    f.trunks = vec![Trunk {
        name: "carrier".into(),
        host: "127.0.0.1".into(),
        port: 5080,
        transport: TrunkTransport::Udp,
        register: false,
        username: None,
        password: None,
        inbound_ips: vec!["127.0.0.1:5080".into()],
        caller_id: Some(MAIN_NUMBER.into()),
        max_channels: Some(30),
        inbound_usd_per_minute: Some(0.0045),
        outbound_usd_per_minute: Some(0.012),
    }];
    f.schedules = vec![Schedule {
        name: "business-hours".into(),
        time_zone: "America/New_York".into(),
        weekly: vec![OpenHours {
            days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
            open: "09:00".into(),
            close: "17:00".into(),
        }],
        holidays: vec![
            Holiday { date: "2026-12-25".into(), name: "Christmas Day".into() },
            Holiday { date: "2027-01-01".into(), name: "New Year's Day".into() },
        ],
        open_target: Target::IvrMenu { name: "main".into() },
        closed_target: Target::VoicemailBox { name: "after-hours".into() },
        holiday_target: None,
    }];
    f.queues = vec![
        queue(
            "sales",
            "New orders and product questions",
            "Thanks for calling sales. An adviser will be with you shortly.",
        ),
        queue(
            "support",
            "Orders, returns and account help",
            "Thanks for calling support. The next available agent will help you.",
        ),
    ];
    f.ivr_menus = vec![IvrMenu {
        name: "main".into(),
        description: "Main menu".into(),
        prompt: text(
            "Thanks for calling Acme Outdoor Supply. For sales, press 1. For support, press 2. \
             To check on an order with our automated assistant, press 3.",
        ),
        options: vec![
            IvrOption {
                digit: "1".into(),
                phrases: vec!["sales".into(), "buy".into()],
                target: Target::Queue { name: "sales".into() },
            },
            IvrOption {
                digit: "2".into(),
                phrases: vec!["support".into(), "help".into(), "return".into()],
                target: Target::Queue { name: "support".into() },
            },
            IvrOption {
                digit: "3".into(),
                phrases: vec!["order".into(), "where is my order".into(), "tracking".into()],
                target: Target::AiAgent { name: "order-assistant".into() },
            },
        ],
        timeout_seconds: 5,
        max_attempts: 3,
        invalid_prompt: Some(text("Sorry, that is not an option.")),
        timeout_target: Some(Target::Queue { name: "support".into() }),
        invalid_target: Some(Target::Queue { name: "support".into() }),
    }];
    f.agents = vec![
        agent("101", "Alice Nguyen", "alice-sip-101", &[("sales", 1), ("support", 2)]),
        agent("102", "Bob Martinez", "bob-sip-102", &[("support", 1)]),
    ];
    f.ai_agents = vec![AiAgent {
        name: "order-assistant".into(),
        description: "Answers order status, balance and ticket questions".into(),
        system_prompt: "You are the phone assistant of Acme Outdoor Supply, an online outdoor-gear shop. \
                        Help callers with their orders, account balance and support tickets using your tools. \
                        Be brief: callers are on the phone. Never guess an order status; look it up. \
                        If the caller wants a person, transfer them."
            .into(),
        greeting: "Hi, this is the Acme Outdoor Supply assistant. How can I help you today?".into(),
        greeting_interruptible: true,
        voice: "default".into(),
        recogniser: Default::default(),
        llm: None,
        tools: ["lookup_customer", "lookup_order", "account_balance", "open_tickets", "transfer", "take_message", "end_call"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        escalation_target: Target::Queue { name: "support".into() },
        fallback_target: Some(Target::Queue { name: "support".into() }),
        voicemail_box: Some("support".into()),
        end_of_turn_silence_ms: 1000,
        end_turn_on_finished_sentence: true,
        end_of_turn_model: false,
        max_call_minutes: 15,
        guided: None,
    }];
    f.phone_numbers = vec![
        PhoneNumber {
            number: MAIN_NUMBER.into(),
            description: "Main line".into(),
            target: Target::Schedule { name: "business-hours".into() },
            trunk: Some("carrier".into()),
            recording: RecordingPreference::Inherit,
        },
        PhoneNumber {
            number: AI_NUMBER.into(),
            description: "Order hotline (AI assistant)".into(),
            target: Target::AiAgent { name: "order-assistant".into() },
            trunk: Some("carrier".into()),
            recording: RecordingPreference::Inherit,
        },
    ];
    f
}

const FIRST: [&str; 12] = [
    "Maria", "James", "Priya", "Daniel", "Sofia", "Liam", "Chen", "Olivia", "Ahmed", "Emma", "Lucas", "Grace",
];
const LAST: [&str; 9] = ["Garcia", "Smith", "Patel", "Johnson", "Rossi", "Brown", "Wang", "Miller", "Khan"];
const PRODUCTS: [(&str, &str, i64); 8] = [
    ("TENT-2P", "Two-person backpacking tent", 24_900),
    ("BAG-20F", "20°F down sleeping bag", 18_900),
    ("PAD-INS", "Insulated sleeping pad", 8_900),
    ("STOVE-CAN", "Canister camp stove", 4_900),
    ("PACK-45L", "45 litre backpack", 15_900),
    ("LAMP-300", "300 lumen headlamp", 3_900),
    ("FILTER-SQ", "Squeeze water filter", 3_500),
    ("JACKET-RN", "Rain jacket", 12_900),
];
const STATUSES: [OrderStatus; 8] = [
    OrderStatus::Delivered,
    OrderStatus::Shipped,
    OrderStatus::Processing,
    OrderStatus::Delivered,
    OrderStatus::Shipped,
    OrderStatus::Paid,
    OrderStatus::Cancelled,
    OrderStatus::Returned,
];

/// The demo customers' phone numbers follow one pattern: +1202555 then 0100 + index.
pub fn customer_phone(index: usize) -> String {
    format!("+1202555{:04}", 100 + index)
}

async fn seed_store(db: &Db, account_id: i64) -> Result<()> {
    let day = 86_400_000i64;
    // Fixed reference time so the demo data is the same on every machine: 2026-11-01T12:00Z.
    let base = 1_793_534_400_000i64;
    let mut order_no = 1001;
    for i in 0..36 {
        let name = format!("{} {}", FIRST[i % FIRST.len()], LAST[(i * 7 + i / 12) % LAST.len()]);
        let email =
            format!("{}.{}{}@example.com", FIRST[i % FIRST.len()], LAST[(i * 7 + i / 12) % LAST.len()], i)
                .to_lowercase();
        let customer = commerce::create_customer(
            db,
            account_id,
            &CustomerInput {
                name,
                phones: vec![CustomerPhone { number: customer_phone(i), label: "mobile".into() }],
                emails: vec![email],
                balance_cents: if i % 5 == 0 { (i as i64 + 1) * 1_250 } else { 0 },
                currency: "USD".into(),
                notes: String::new(),
            },
        )
        .await?;
        for k in 0..(1 + i % 3) {
            let status = STATUSES[(i + k * 3) % STATUSES.len()];
            let (p1, p2) = (PRODUCTS[(i + k) % PRODUCTS.len()], PRODUCTS[(i * 3 + k + 1) % PRODUCTS.len()]);
            let mut items =
                vec![OrderItem { sku: p1.0.into(), name: p1.1.into(), quantity: 1, unit_price_cents: p1.2 }];
            if (i + k) % 2 == 0 && p2.0 != p1.0 {
                items.push(OrderItem {
                    sku: p2.0.into(),
                    name: p2.1.into(),
                    quantity: 1 + (k as i64 % 2),
                    unit_price_cents: p2.2,
                });
            }
            let shipped =
                matches!(status, OrderStatus::Shipped | OrderStatus::Delivered | OrderStatus::Returned);
            let (carrier, tracking) = if shipped {
                if order_no % 2 == 0 {
                    (Some("UPS".to_string()), Some(format!("1Z999AA1{:010}", order_no * 7919)))
                } else {
                    (Some("USPS".to_string()), Some(format!("9400111899{:012}", order_no * 104_729)))
                }
            } else {
                (None, None)
            };
            commerce::create_order(
                db,
                account_id,
                &OrderInput {
                    customer_id: customer.id,
                    number: order_no.to_string(),
                    status,
                    currency: "USD".into(),
                    items,
                    shipping_cents: 795,
                    tax_cents: 0,
                    carrier,
                    tracking_number: tracking,
                    placed_at: Some(base - ((40 - i as i64) * day) + k as i64 * 5 * day),
                },
            )
            .await?;
            order_no += 1;
        }
        if i % 6 == 1 {
            commerce::create_ticket(
                db,
                account_id,
                &TicketInput {
                    customer_id: customer.id,
                    subject: format!("Question about order {}", order_no - 1),
                    status: commerce::TicketStatus::Open,
                    priority: commerce::TicketPriority::Normal,
                },
            )
            .await?;
        }
    }
    Ok(())
}

const USERS: [(&str, &str, Role, Option<&str>); 5] = [
    ("owner@demo.example", "Olga Owner", Role::Owner, None),
    ("admin@demo.example", "Adam Admin", Role::Admin, None),
    ("supervisor@demo.example", "Sam Supervisor", Role::Supervisor, None),
    ("alice@demo.example", "Alice Nguyen", Role::Agent, Some("101")),
    ("bob@demo.example", "Bob Martinez", Role::Agent, Some("102")),
];

/// Loads the demo account unless it exists; returns the logins to print.
pub async fn ensure(db: &Db) -> Result<(bool, Vec<Login>)> {
    let created = if accounts::by_slug(db, ACCOUNT).await?.is_none() {
        configfile::import(db, config(), false).await?;
        let account = accounts::by_slug(db, ACCOUNT).await?.ok_or(crate::Error::NotFound)?;
        for (email, name, role, ext) in USERS {
            users::create(
                db,
                account.id,
                &users::UserInput {
                    email: email.into(),
                    name: name.into(),
                    role,
                    password: Some(PASSWORD.into()),
                    agent_extension: ext.map(str::to_string),
                    disabled: false,
                },
            )
            .await?;
        }
        seed_store(db, account.id).await?;
        true
    } else {
        false
    };
    let mut logins: Vec<Login> = USERS
        .iter()
        .map(|(email, _, role, _)| Login {
            what: format!("web login ({})", role.as_str()),
            user: email.to_string(),
            secret: PASSWORD.into(),
        })
        .collect();
    for a in config().agents {
        logins.push(Login {
            what: format!("SIP extension {} ({})", a.extension, a.display_name),
            user: a.sip_username().to_string(),
            secret: a.sip_password.clone().unwrap_or_default(),
        });
    }
    Ok((created, logins))
}
