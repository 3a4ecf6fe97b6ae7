//! The built-in commerce tools, over the merchant's store data: `lookup_customer`,
//! `lookup_order`, `account_balance` and `open_tickets`. They read through [`CommerceStore`],
//! which the orchestrator implements over its database; records travel as JSON objects shaped
//! like the API's. Without arguments the tools work for the caller (the customer the call was
//! matched to), which is what "where is my last order?" needs.

use crate::{CallContext, Tool, ToolError, ToolFuture, ToolSpec};
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// How to find customers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerKey {
    Id(i64),
    Phone(String),
    Email(String),
    Name(String),
}

/// Read access to one account's store data (JSON objects as the API shows them).
pub trait CommerceStore: Send + Sync {
    fn customers<'a>(&'a self, account: i64, key: CustomerKey) -> StoreFuture<'a, Vec<Value>>;
    /// The order with this merchant order number.
    fn order<'a>(&'a self, account: i64, number: &'a str) -> StoreFuture<'a, Option<Value>>;
    /// A customer's orders, newest first.
    fn orders_of<'a>(&'a self, account: i64, customer: i64, limit: usize) -> StoreFuture<'a, Vec<Value>>;
    fn tickets_of<'a>(&'a self, account: i64, customer: i64) -> StoreFuture<'a, Vec<Value>>;
}

fn spec(name: &str, description: &str, parameters: Value) -> ToolSpec {
    ToolSpec {
        name: name.into(),
        description: description.into(),
        parameters,
        timeout: Duration::from_secs(3),
        cancel_on_interruption: true,
    }
}

fn failed(e: String) -> ToolError {
    ToolError::Unavailable(format!("the store could not be read: {e}"))
}

/// What a caller may be told about a customer (no internal notes).
fn customer_view(c: &Value) -> Value {
    json!({"id": c["id"], "name": c["name"], "balance_cents": c["balance_cents"], "currency": c["currency"]})
}

/// What a caller may be told about an order.
fn order_view(o: &Value) -> Value {
    json!({
        "number": o["number"], "status": o["status"], "placed_at": o["placed_at"],
        "total_cents": o["total_cents"], "currency": o["currency"],
        "items": o["items"].as_array().map(|items| items.iter().map(|i| json!({"name": i["name"], "quantity": i["quantity"]})).collect::<Vec<_>>()),
        "carrier": o["carrier"], "tracking_number": o["tracking_number"],
    })
}

struct Builtin {
    spec: ToolSpec,
    store: Arc<dyn CommerceStore>,
    kind: Kind,
}

#[derive(Clone, Copy)]
enum Kind {
    Customer,
    Order,
    Balance,
    Tickets,
}

/// The built-in commerce tools over `store`.
pub fn tools(store: Arc<dyn CommerceStore>) -> Vec<Arc<dyn Tool>> {
    let string = json!({"type": "string", "minLength": 1, "maxLength": 200});
    let make = |kind, spec| Arc::new(Builtin { spec, store: store.clone(), kind }) as Arc<dyn Tool>;
    vec![
        make(Kind::Customer, spec(
            "lookup_customer",
            "Finds a customer by phone number, e-mail address or name. Without arguments: the caller.",
            json!({"type": "object", "additionalProperties": false,
                "properties": {"phone": string, "email": string, "name": string}}),
        )),
        make(Kind::Order, spec(
            "lookup_order",
            "An order's status, items and tracking, by order number. Without a number: the caller's recent orders.",
            json!({"type": "object", "additionalProperties": false,
                "properties": {"order_number": {"type": "string", "minLength": 1, "maxLength": 40}}}),
        )),
        make(Kind::Balance, spec(
            "account_balance",
            "The caller's account balance.",
            json!({"type": "object", "additionalProperties": false, "properties": {}}),
        )),
        make(Kind::Tickets, spec(
            "open_tickets",
            "The caller's open support tickets.",
            json!({"type": "object", "additionalProperties": false, "properties": {}}),
        )),
    ]
}

impl Builtin {
    /// The caller's customer id, or a structured refusal the model can act on.
    fn caller(ctx: &CallContext) -> Result<i64, ToolError> {
        ctx.customer_id.ok_or_else(|| {
            ToolError::Failed(
                "the caller is not a known customer: ask for their order number or e-mail".into(),
            )
        })
    }

    async fn run(&self, args: Value, ctx: &CallContext) -> Result<Value, ToolError> {
        let account = ctx.account;
        match self.kind {
            Kind::Customer => {
                let key = if let Some(p) = args["phone"].as_str() {
                    CustomerKey::Phone(p.into())
                } else if let Some(e) = args["email"].as_str() {
                    CustomerKey::Email(e.to_lowercase())
                } else if let Some(n) = args["name"].as_str() {
                    CustomerKey::Name(n.into())
                } else {
                    CustomerKey::Id(Self::caller(ctx)?)
                };
                let found = self.store.customers(account, key).await.map_err(failed)?;
                Ok(json!({"customers": found.iter().take(5).map(customer_view).collect::<Vec<_>>()}))
            }
            Kind::Order => match args["order_number"].as_str() {
                Some(number) => {
                    let number = number.trim().trim_start_matches('#').replace([' ', '-'], "");
                    match self.store.order(account, &number).await.map_err(failed)? {
                        Some(o) => Ok(json!({"order": order_view(&o)})),
                        None => Ok(json!({"order": null, "message": format!("there is no order {number}")})),
                    }
                }
                None => {
                    let orders =
                        self.store.orders_of(account, Self::caller(ctx)?, 3).await.map_err(failed)?;
                    Ok(json!({"orders": orders.iter().map(order_view).collect::<Vec<_>>()}))
                }
            },
            Kind::Balance => {
                let found = self
                    .store
                    .customers(account, CustomerKey::Id(Self::caller(ctx)?))
                    .await
                    .map_err(failed)?;
                let c = found
                    .first()
                    .ok_or_else(|| ToolError::Failed("the caller's customer record is gone".into()))?;
                Ok(json!({"balance_cents": c["balance_cents"], "currency": c["currency"]}))
            }
            Kind::Tickets => {
                let tickets = self.store.tickets_of(account, Self::caller(ctx)?).await.map_err(failed)?;
                let open: Vec<Value> = tickets
                    .iter()
                    .filter(|t| matches!(t["status"].as_str(), Some("open" | "pending")))
                    .map(|t| json!({"subject": t["subject"], "status": t["status"], "priority": t["priority"]}))
                    .collect();
                Ok(json!({"tickets": open}))
            }
        }
    }
}

impl Tool for Builtin {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke<'a>(&'a self, args: Value, ctx: &'a CallContext) -> ToolFuture<'a> {
        Box::pin(self.run(args, ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call;

    /// A store holding two customers, their orders and tickets in memory.
    struct Shop;

    fn customers() -> Vec<Value> {
        vec![
            json!({"id": 1, "name": "Pat Doe", "balance_cents": 1250, "currency": "USD", "notes": "internal: VIP", "phone": "+12025550100", "email": "pat@doe.example"}),
            json!({"id": 2, "name": "Sam Roe", "balance_cents": 0, "currency": "USD", "notes": "", "phone": "+12025550101", "email": "sam@roe.example"}),
        ]
    }

    fn orders() -> Vec<Value> {
        vec![
            json!({"number": "1042", "customer_id": 1, "status": "shipped", "placed_at": 3, "total_cents": 5900, "currency": "USD",
                "items": [{"name": "Tent", "quantity": 1, "sku": "T1"}], "carrier": "UPS", "tracking_number": "1Z999"}),
            json!({"number": "1043", "customer_id": 1, "status": "processing", "placed_at": 5, "total_cents": 1200, "currency": "USD", "items": []}),
            json!({"number": "2001", "customer_id": 2, "status": "delivered", "placed_at": 4, "total_cents": 800, "currency": "USD", "items": []}),
        ]
    }

    impl CommerceStore for Shop {
        fn customers<'a>(&'a self, _: i64, key: CustomerKey) -> StoreFuture<'a, Vec<Value>> {
            Box::pin(async move {
                Ok(customers()
                    .into_iter()
                    .filter(|c| match &key {
                        CustomerKey::Id(id) => c["id"] == *id,
                        CustomerKey::Phone(p) => c["phone"] == *p,
                        CustomerKey::Email(e) => c["email"] == *e,
                        CustomerKey::Name(n) => {
                            c["name"].as_str().unwrap().to_lowercase().contains(&n.to_lowercase())
                        }
                    })
                    .collect())
            })
        }
        fn order<'a>(&'a self, _: i64, number: &'a str) -> StoreFuture<'a, Option<Value>> {
            Box::pin(async move { Ok(orders().into_iter().find(|o| o["number"] == number)) })
        }
        fn orders_of<'a>(&'a self, _: i64, customer: i64, limit: usize) -> StoreFuture<'a, Vec<Value>> {
            Box::pin(async move {
                let mut mine: Vec<Value> =
                    orders().into_iter().filter(|o| o["customer_id"] == customer).collect();
                mine.sort_by_key(|o| std::cmp::Reverse(o["placed_at"].as_i64()));
                mine.truncate(limit);
                Ok(mine)
            })
        }
        fn tickets_of<'a>(&'a self, _: i64, customer: i64) -> StoreFuture<'a, Vec<Value>> {
            Box::pin(async move {
                Ok(if customer == 1 {
                    vec![
                        json!({"subject": "Broken zip", "status": "open", "priority": "high"}),
                        json!({"subject": "Old", "status": "closed", "priority": "low"}),
                    ]
                } else {
                    vec![]
                })
            })
        }
    }

    fn tool(name: &str) -> Arc<dyn Tool> {
        tools(Arc::new(Shop)).into_iter().find(|t| t.spec().name == name).unwrap()
    }

    #[tokio::test]
    async fn the_caller_s_orders_balance_and_tickets() {
        let caller =
            CallContext { account: 1, caller_number: Some("+12025550100".into()), customer_id: Some(1) };
        let r = call(tool("lookup_order").as_ref(), json!({}), &caller).await.outcome.unwrap();
        let numbers: Vec<&str> =
            r["orders"].as_array().unwrap().iter().map(|o| o["number"].as_str().unwrap()).collect();
        assert_eq!(numbers, vec!["1043", "1042"], "newest first, only the caller's");
        let r = call(tool("lookup_order").as_ref(), json!({"order_number": "#10-42"}), &caller)
            .await
            .outcome
            .unwrap();
        assert_eq!(r["order"]["status"], "shipped");
        assert_eq!(r["order"]["tracking_number"], "1Z999");
        assert!(r["order"]["items"][0].get("sku").is_none(), "only what a caller needs");
        let r = call(tool("lookup_order").as_ref(), json!({"order_number": "9999"}), &caller)
            .await
            .outcome
            .unwrap();
        assert!(r["order"].is_null() && r["message"].as_str().unwrap().contains("9999"));
        let r = call(tool("account_balance").as_ref(), json!({}), &caller).await.outcome.unwrap();
        assert_eq!(r, json!({"balance_cents": 1250, "currency": "USD"}));
        let r = call(tool("open_tickets").as_ref(), json!({}), &caller).await.outcome.unwrap();
        assert_eq!(r["tickets"].as_array().unwrap().len(), 1);
        let r = call(tool("lookup_customer").as_ref(), json!({"email": "SAM@roe.example"}), &caller)
            .await
            .outcome
            .unwrap();
        assert_eq!(r["customers"][0]["name"], "Sam Roe");
        assert!(r["customers"][0].get("notes").is_none(), "internal notes are never read out");
    }

    #[tokio::test]
    async fn an_unknown_caller_is_asked_for_details_and_bad_calls_are_refused() {
        let stranger =
            CallContext { account: 1, caller_number: Some("+19995550000".into()), customer_id: None };
        let r = call(tool("lookup_order").as_ref(), json!({}), &stranger).await;
        assert!(r.for_model()["message"].as_str().unwrap().contains("order number"), "{:?}", r.outcome);
        let r = call(tool("account_balance").as_ref(), json!({"customer": 2}), &stranger).await;
        assert_eq!(r.for_model()["error"], "invalid_arguments", "no reading another customer's balance");
        assert_eq!(tools(Arc::new(Shop)).len(), 4);
    }
}
