//! What an LLM agent is told: its system prompt and rules (one system message, the same for
//! every call), then the caller's matched customer (name, balance, recent orders, open tickets)
//! and supervisor guidance (a second one), then the conversation. Card numbers never
//! enter a prompt: anything that looks like one (13–19 digits passing the Luhn check, however
//! spaced) is replaced before a message is built.

use crate::llm::{ChatMessage, Role};
use crate::model::AiAgent;
use serde_json::Value;
use switchboard_tools::commerce::{CommerceStore, CustomerKey};

/// What is known about the caller before the first turn.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallerFacts {
    pub caller_number: Option<String>,
    pub customer: Option<Value>,
    pub recent_orders: Vec<Value>,
    pub open_tickets: Vec<Value>,
}

/// Looks the caller up (by the customer the call was matched to).
pub async fn caller_facts(
    store: &dyn CommerceStore,
    account: i64,
    caller_number: Option<String>,
    customer_id: Option<i64>,
) -> CallerFacts {
    let mut facts = CallerFacts { caller_number, ..Default::default() };
    let Some(id) = customer_id else { return facts };
    facts.customer =
        store.customers(account, CustomerKey::Id(id)).await.ok().and_then(|c| c.into_iter().next());
    facts.recent_orders = store.orders_of(account, id, 3).await.unwrap_or_default();
    facts.open_tickets = store
        .tickets_of(account, id)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|t| matches!(t["status"].as_str(), Some("open" | "pending")))
        .collect();
    facts
}

/// The Luhn check of card numbers, over digit values (0 to 9).
pub(crate) fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = d as u32;
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    matches!(sum % 10, 0)
}

/// Card-number shape: 13–19 digits, a card network's prefix (so millisecond timestamps and
/// long ids are left alone), and the Luhn check.
fn looks_like_card(digits: &[u8]) -> bool {
    let n = digits.len();
    let prefix = |k: usize| digits.iter().take(k).fold(0u32, |acc, &d| acc * 10 + d as u32);
    let network = match digits.first() {
        Some(4) => matches!(n, 13 | 16 | 19),                     // Visa
        Some(5) => (51..=55).contains(&prefix(2)) && n == 16,     // Mastercard
        Some(2) => (2221..=2720).contains(&prefix(4)) && n == 16, // Mastercard 2-series
        Some(3) => match prefix(2) {
            34 | 37 => n == 15,                          // American Express
            35 => (16..=19).contains(&n),                // JCB
            36 | 38 | 39 | 30 => (14..=19).contains(&n), // Diners Club
            _ => false,
        },
        Some(6) => (16..=19).contains(&n),    // Discover, UnionPay, Maestro
        Some(1) => n == 15 && prefix(1) == 1, // UATP
        _ => false,
    };
    network && luhn(digits)
}

/// Replaces anything that looks like a card number.
pub fn redact_cards(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            // A run of digits, possibly separated by single spaces or dashes.
            let mut j = i;
            let mut digits = Vec::new();
            let mut end = i;
            while j < chars.len() {
                if chars[j].is_ascii_digit() {
                    digits.push(chars[j] as u8 - b'0');
                    end = j + 1;
                    j += 1;
                } else if matches!(chars[j], ' ' | '-')
                    && chars.get(j + 1).is_some_and(|c| c.is_ascii_digit())
                {
                    j += 1;
                } else {
                    break;
                }
            }
            if looks_like_card(&digits) {
                out.push_str("[card number removed]");
            } else {
                out.extend(&chars[i..end]);
            }
            i = end;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn money(cents: &Value, currency: &Value) -> String {
    let c = cents.as_i64().unwrap_or(0);
    format!("{}.{:02} {}", c / 100, (c % 100).abs(), currency.as_str().unwrap_or("USD"))
}

/// The agent's instructions and the rules every agent keeps: the same for every call and turn
/// of the agent, so that a model server that caches prompt prefixes (llama.cpp, Ollama, the
/// cloud APIs) reads it, and the tools declared after it, once (see `agent::warm_up`).
pub fn instructions(agent: &AiAgent) -> String {
    let mut s = agent.system_prompt.trim().to_string();
    s.push_str(
        "\n\nYou are speaking on the phone: answer in one to three short sentences, no lists or markdown.",
    );
    s.push_str(" Never ask for or repeat card numbers; payments are taken by keypad.");
    redact_cards(&s)
}

/// What this call is about: the caller (their orders and tickets) and the supervisor's
/// guidance, in a second system message after the instructions.
pub fn call_context(facts: &CallerFacts, guidance: &[String]) -> String {
    let mut s = String::from("## The caller\n");
    match (&facts.customer, &facts.caller_number) {
        (Some(c), _) => {
            s.push_str(&format!(
                "Known customer: {} (customer id {}). Account balance: {}.\n",
                c["name"].as_str().unwrap_or("unknown"),
                c["id"],
                money(&c["balance_cents"], &c["currency"])
            ));
            if facts.recent_orders.is_empty() {
                s.push_str("No orders.\n");
            }
            for o in &facts.recent_orders {
                s.push_str(&format!(
                    "Order {}: {}, total {}{}.\n",
                    o["number"].as_str().unwrap_or("?"),
                    o["status"].as_str().unwrap_or("?"),
                    money(&o["total_cents"], &o["currency"]),
                    o["tracking_number"].as_str().map(|t| format!(", tracking {t}")).unwrap_or_default()
                ));
            }
            for t in &facts.open_tickets {
                s.push_str(&format!(
                    "Open ticket: {} ({}).\n",
                    t["subject"].as_str().unwrap_or("?"),
                    t["status"].as_str().unwrap_or("?")
                ));
            }
        }
        (None, Some(n)) => s.push_str(&format!(
            "Calling from {n}; not a known customer. Ask for an order number or e-mail.\n"
        )),
        (None, None) => s.push_str("Caller unknown (number withheld). Ask for an order number or e-mail.\n"),
    }
    if !guidance.is_empty() {
        s.push_str("\n## Guidance from your supervisor (follow it; never mention it)\n");
        for g in guidance {
            s.push_str(&format!("- {}\n", redact_cards(g)));
        }
    }
    redact_cards(&s)
}

/// The messages for the next model turn: the instructions, the call's context, then the
/// conversation so far (tool results included), with card numbers removed from everything the
/// caller said.
pub fn messages(
    agent: &AiAgent,
    facts: &CallerFacts,
    guidance: &[String],
    history: &[ChatMessage],
) -> Vec<ChatMessage> {
    let mut out = vec![
        ChatMessage::new(Role::System, instructions(agent)),
        ChatMessage::new(Role::System, call_context(facts, guidance)),
    ];
    out.extend(history.iter().map(|m| ChatMessage { content: redact_cards(&m.content), ..m.clone() }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn agent() -> AiAgent {
        serde_json::from_value(json!({
            "name": "assistant", "system_prompt": "You are the assistant of Acme.", "greeting": "Hi!",
            "escalation_target": {"type": "agent", "extension": "101"}
        }))
        .unwrap()
    }

    #[test]
    fn card_numbers_are_removed_and_order_numbers_kept() {
        assert_eq!(redact_cards("my card is 4111 1111 1111 1111 ok"), "my card is [card number removed] ok");
        assert_eq!(redact_cards("4111-1111-1111-1111"), "[card number removed]");
        assert_eq!(redact_cards("order 1042, phone 2025550123"), "order 1042, phone 2025550123");
        assert_eq!(redact_cards("1234 5678 9012 3456"), "1234 5678 9012 3456", "not a valid card number");
        assert_eq!(redact_cards("378282246310005"), "[card number removed]", "American Express");
        assert_eq!(redact_cards("5555 5555 5555 4444"), "[card number removed]", "Mastercard");
        // A millisecond timestamp that happens to pass the Luhn check is not a card.
        let ts = "1790164800000";
        assert!(luhn(&ts.bytes().map(|b| b - b'0').collect::<Vec<_>>()));
        assert_eq!(redact_cards(&format!("placed_at: {ts}")), format!("placed_at: {ts}"));
    }

    #[test]
    fn the_prompt_knows_the_caller_and_never_the_card() {
        let facts = CallerFacts {
            caller_number: Some("+12025550100".into()),
            customer: Some(json!({"id": 7, "name": "Pat Doe", "balance_cents": 1250, "currency": "USD"})),
            recent_orders: vec![
                json!({"number": "1042", "status": "shipped", "total_cents": 5900, "currency": "USD", "tracking_number": "1Z9"}),
            ],
            open_tickets: vec![json!({"subject": "Broken zip", "status": "open"})],
        };
        let history = vec![ChatMessage::new(Role::User, "Charge 4111 1111 1111 1111 please")];
        let msgs = messages(&agent(), &facts, &["Offer free shipping".into()], &history);
        let system = format!("{}\n{}", msgs[0].content, msgs[1].content);
        for needle in [
            "You are the assistant of Acme.",
            "Pat Doe",
            "12.50 USD",
            "Order 1042: shipped",
            "tracking 1Z9",
            "Broken zip",
            "Offer free shipping",
        ] {
            assert!(system.contains(needle), "{needle} missing from:\n{system}");
        }
        assert_eq!(msgs[2].content, "Charge [card number removed] please");
        // The instructions are the same whoever calls (a model server's cache keeps them).
        let stranger = messages(
            &agent(),
            &CallerFacts { caller_number: Some("+19995550000".into()), ..Default::default() },
            &[],
            &[],
        );
        assert_eq!(stranger[0].content, msgs[0].content);
        let stranger = &stranger[1].content;
        assert!(stranger.contains("not a known customer"));
    }
}
