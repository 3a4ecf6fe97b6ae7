//! The merchant's store data that calls are matched against: customers (with phone numbers and
//! e-mails), orders with items and tracking, and support tickets.

use crate::clock::now_ms;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::model::{validate::is_email, Problems};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPhone {
    /// E.164.
    pub number: String,
    #[serde(default)]
    pub label: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Customer {
    pub id: i64,
    pub name: String,
    pub phones: Vec<CustomerPhone>,
    pub emails: Vec<String>,
    /// Positive: the customer owes the merchant; negative: store credit.
    pub balance_cents: i64,
    pub currency: String,
    pub notes: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    pub name: String,
    #[serde(default)]
    pub phones: Vec<CustomerPhone>,
    #[serde(default)]
    pub emails: Vec<String>,
    #[serde(default)]
    pub balance_cents: i64,
    #[serde(default = "default_currency")]
    pub currency: String,
    #[serde(default)]
    pub notes: String,
}

fn default_currency() -> String {
    "USD".into()
}

fn check_currency(p: &mut Problems, c: &str) {
    if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
        p.push("currency", "must be a three-letter ISO 4217 code such as USD");
    }
}

fn finish(p: Problems) -> Result<()> {
    if p.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(p.into_vec()))
    }
}

impl CustomerInput {
    pub(crate) fn validate(&self) -> Result<()> {
        let mut p = Problems::new();
        p.text("name", &self.name, true, 200);
        p.field("phones", |p| {
            for (i, ph) in self.phones.iter().enumerate() {
                p.index(i, |p| {
                    p.e164("number", &ph.number);
                    p.text("label", &ph.label, false, 50);
                });
            }
        });
        p.field("emails", |p| {
            for (i, e) in self.emails.iter().enumerate() {
                if !is_email(e) {
                    p.index(i, |p| p.push("", "must be an e-mail address"));
                }
            }
        });
        check_currency(&mut p, &self.currency);
        p.text("notes", &self.notes, false, 5000);
        finish(p)
    }
}

async fn load_customer(db: &Db, account_id: i64, row: &sqlx::any::AnyRow) -> Result<Customer> {
    let id: i64 = row.try_get("id")?;
    let phones = sqlx::query(
        "SELECT number, label FROM customer_phones WHERE customer_id = $1 AND account_id = $2 ORDER BY id",
    )
    .bind(id)
    .bind(account_id)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| Ok(CustomerPhone { number: r.try_get("number")?, label: r.try_get("label")? }))
    .collect::<Result<Vec<_>>>()?;
    let emails = sqlx::query(
        "SELECT email FROM customer_emails WHERE customer_id = $1 AND account_id = $2 ORDER BY id",
    )
    .bind(id)
    .bind(account_id)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| Ok(r.try_get("email")?))
    .collect::<Result<Vec<_>>>()?;
    Ok(Customer {
        id,
        name: row.try_get("name")?,
        phones,
        emails,
        balance_cents: row.try_get("balance_cents")?,
        currency: row.try_get("currency")?,
        notes: row.try_get("notes")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

const CUSTOMER_COLS: &str = "c.id, c.name, c.balance_cents, c.currency, c.notes, c.created_at, c.updated_at";

/// Filters for listing customers; all optional.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
pub struct CustomerQuery {
    /// Exact E.164 phone number.
    pub phone: Option<String>,
    pub email: Option<String>,
    /// Part of the name, case-insensitive.
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

pub async fn list_customers(db: &Db, account_id: i64, query: &CustomerQuery) -> Result<Vec<Customer>> {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let offset = query.offset.unwrap_or(0).max(0);
    let rows = sqlx::query(&format!(
        "SELECT {CUSTOMER_COLS} FROM customers c WHERE c.account_id = $1 \
         AND ($2 IS NULL OR c.id IN (SELECT customer_id FROM customer_phones WHERE account_id = $1 AND number = $2)) \
         AND ($3 IS NULL OR c.id IN (SELECT customer_id FROM customer_emails WHERE account_id = $1 AND email = $3)) \
         AND ($4 IS NULL OR LOWER(c.name) LIKE $4) \
         ORDER BY c.id LIMIT $5 OFFSET $6"
    ))
    .bind(account_id)
    .bind(&query.phone)
    .bind(query.email.as_ref().map(|e| e.to_lowercase()))
    .bind(query.q.as_ref().map(|q| format!("%{}%", q.to_lowercase())))
    .bind(limit)
    .bind(offset)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.push(load_customer(db, account_id, row).await?);
    }
    Ok(out)
}

pub async fn get_customer(db: &Db, account_id: i64, id: i64) -> Result<Customer> {
    let row = sqlx::query(&format!(
        "SELECT {CUSTOMER_COLS} FROM customers c WHERE c.account_id = $1 AND c.id = $2"
    ))
    .bind(account_id)
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or(Error::NotFound)?;
    load_customer(db, account_id, &row).await
}

async fn write_contacts(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    account_id: i64,
    id: i64,
    input: &CustomerInput,
) -> Result<()> {
    sqlx::query("DELETE FROM customer_phones WHERE customer_id = $1").bind(id).execute(&mut **tx).await?;
    sqlx::query("DELETE FROM customer_emails WHERE customer_id = $1").bind(id).execute(&mut **tx).await?;
    for ph in &input.phones {
        sqlx::query(
            "INSERT INTO customer_phones (account_id, customer_id, number, label) VALUES ($1, $2, $3, $4)",
        )
        .bind(account_id)
        .bind(id)
        .bind(&ph.number)
        .bind(&ph.label)
        .execute(&mut **tx)
        .await?;
    }
    for e in &input.emails {
        sqlx::query("INSERT INTO customer_emails (account_id, customer_id, email) VALUES ($1, $2, $3)")
            .bind(account_id)
            .bind(id)
            .bind(e.to_lowercase())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

pub async fn create_customer(db: &Db, account_id: i64, input: &CustomerInput) -> Result<Customer> {
    input.validate()?;
    let now = now_ms();
    let mut tx = db.pool().begin().await?;
    let row = sqlx::query(
        "INSERT INTO customers (account_id, name, balance_cents, currency, notes, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(account_id)
    .bind(&input.name)
    .bind(input.balance_cents)
    .bind(&input.currency)
    .bind(&input.notes)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let id: i64 = row.try_get("id")?;
    write_contacts(&mut tx, account_id, id, input).await?;
    tx.commit().await?;
    get_customer(db, account_id, id).await
}

pub async fn update_customer(db: &Db, account_id: i64, id: i64, input: &CustomerInput) -> Result<Customer> {
    input.validate()?;
    let mut tx = db.pool().begin().await?;
    let done = sqlx::query(
        "UPDATE customers SET name = $1, balance_cents = $2, currency = $3, notes = $4, updated_at = $5 \
         WHERE id = $6 AND account_id = $7",
    )
    .bind(&input.name)
    .bind(input.balance_cents)
    .bind(&input.currency)
    .bind(&input.notes)
    .bind(now_ms())
    .bind(id)
    .bind(account_id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound);
    }
    write_contacts(&mut tx, account_id, id, input).await?;
    tx.commit().await?;
    get_customer(db, account_id, id).await
}

pub async fn delete_customer(db: &Db, account_id: i64, id: i64) -> Result<()> {
    super::delete_owned(db, super::Owned::Customers, account_id, id).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    Paid,
    Processing,
    Shipped,
    Delivered,
    Cancelled,
    Refunded,
    Returned,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Processing => "processing",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Returned => "returned",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderItem {
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Order {
    pub id: i64,
    pub customer_id: i64,
    pub number: String,
    pub status: OrderStatus,
    pub currency: String,
    pub items: Vec<OrderItem>,
    pub subtotal_cents: i64,
    pub shipping_cents: i64,
    pub tax_cents: i64,
    pub total_cents: i64,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub placed_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    pub customer_id: i64,
    /// The merchant's order number, unique in the account (e.g. "1042").
    pub number: String,
    pub status: OrderStatus,
    #[serde(default = "default_currency")]
    pub currency: String,
    pub items: Vec<OrderItem>,
    #[serde(default)]
    pub shipping_cents: i64,
    #[serde(default)]
    pub tax_cents: i64,
    #[serde(default)]
    pub carrier: Option<String>,
    #[serde(default)]
    pub tracking_number: Option<String>,
    /// Unix milliseconds; now when unset.
    #[serde(default)]
    pub placed_at: Option<i64>,
}

impl OrderInput {
    pub(crate) fn validate(&self) -> Result<()> {
        let mut p = Problems::new();
        let n = &self.number;
        if n.is_empty() || n.len() > 40 || !n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            p.push("number", "must be 1 to 40 letters, digits or '-'");
        }
        check_currency(&mut p, &self.currency);
        if self.items.is_empty() {
            p.push("items", "must have at least one item");
        }
        p.field("items", |p| {
            for (i, it) in self.items.iter().enumerate() {
                p.index(i, |p| {
                    p.text("sku", &it.sku, true, 64);
                    p.text("name", &it.name, true, 200);
                    p.range("quantity", it.quantity, 1, 100_000);
                    p.range("unit_price_cents", it.unit_price_cents, 0, 100_000_000);
                });
            }
        });
        p.range("shipping_cents", self.shipping_cents, 0, 100_000_000);
        p.range("tax_cents", self.tax_cents, 0, 100_000_000);
        if let Some(c) = &self.carrier {
            p.text("carrier", c, true, 50);
        }
        if let Some(t) = &self.tracking_number {
            p.text("tracking_number", t, true, 64);
        }
        finish(p)
    }

    pub(crate) fn subtotal(&self) -> i64 {
        self.items.iter().map(|i| i.quantity * i.unit_price_cents).sum()
    }
}

const ORDER_COLS: &str =
    "id, customer_id, number, status, currency, subtotal_cents, shipping_cents, tax_cents, \
                          total_cents, carrier, tracking_number, placed_at, updated_at";

async fn load_order(db: &Db, row: &sqlx::any::AnyRow) -> Result<Order> {
    let id: i64 = row.try_get("id")?;
    let items = sqlx::query(
        "SELECT sku, name, quantity, unit_price_cents FROM order_items WHERE order_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| {
        Ok(OrderItem {
            sku: r.try_get("sku")?,
            name: r.try_get("name")?,
            quantity: r.try_get("quantity")?,
            unit_price_cents: r.try_get("unit_price_cents")?,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    let status: String = row.try_get("status")?;
    Ok(Order {
        id,
        customer_id: row.try_get("customer_id")?,
        number: row.try_get("number")?,
        status: serde_json::from_value(serde_json::Value::String(status.clone()))
            .map_err(|_| Error::Corrupt(format!("order #{id} status '{status}'")))?,
        currency: row.try_get("currency")?,
        items,
        subtotal_cents: row.try_get("subtotal_cents")?,
        shipping_cents: row.try_get("shipping_cents")?,
        tax_cents: row.try_get("tax_cents")?,
        total_cents: row.try_get("total_cents")?,
        carrier: row.try_get("carrier")?,
        tracking_number: row.try_get("tracking_number")?,
        placed_at: row.try_get("placed_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
pub struct OrderQuery {
    pub customer_id: Option<i64>,
    pub number: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Orders, newest first.
pub async fn list_orders(db: &Db, account_id: i64, query: &OrderQuery) -> Result<Vec<Order>> {
    let rows = sqlx::query(&format!(
        "SELECT {ORDER_COLS} FROM orders WHERE account_id = $1 \
         AND ($2 IS NULL OR customer_id = $2) AND ($3 IS NULL OR number = $3) \
         ORDER BY placed_at DESC, id DESC LIMIT $4 OFFSET $5"
    ))
    .bind(account_id)
    .bind(query.customer_id)
    .bind(&query.number)
    .bind(query.limit.unwrap_or(100).clamp(1, 1000))
    .bind(query.offset.unwrap_or(0).max(0))
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.push(load_order(db, row).await?);
    }
    Ok(out)
}

pub async fn get_order(db: &Db, account_id: i64, id: i64) -> Result<Order> {
    let row = sqlx::query(&format!("SELECT {ORDER_COLS} FROM orders WHERE account_id = $1 AND id = $2"))
        .bind(account_id)
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(Error::NotFound)?;
    load_order(db, &row).await
}

async fn write_items(tx: &mut sqlx::Transaction<'_, sqlx::Any>, id: i64, items: &[OrderItem]) -> Result<()> {
    sqlx::query("DELETE FROM order_items WHERE order_id = $1").bind(id).execute(&mut **tx).await?;
    for it in items {
        sqlx::query("INSERT INTO order_items (order_id, sku, name, quantity, unit_price_cents) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(&it.sku)
            .bind(&it.name)
            .bind(it.quantity)
            .bind(it.unit_price_cents)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn ensure_customer(db: &Db, account_id: i64, customer_id: i64) -> Result<()> {
    match get_customer(db, account_id, customer_id).await {
        Err(Error::NotFound) => Err(Error::invalid("customer_id", "no such customer")),
        other => other.map(|_| ()),
    }
}

pub async fn create_order(db: &Db, account_id: i64, input: &OrderInput) -> Result<Order> {
    input.validate()?;
    ensure_customer(db, account_id, input.customer_id).await?;
    let now = now_ms();
    let subtotal = input.subtotal();
    let mut tx = db.pool().begin().await?;
    let row = sqlx::query(
        "INSERT INTO orders (account_id, customer_id, number, status, currency, subtotal_cents, shipping_cents, \
         tax_cents, total_cents, carrier, tracking_number, placed_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(account_id)
    .bind(input.customer_id)
    .bind(&input.number)
    .bind(input.status.as_str())
    .bind(&input.currency)
    .bind(subtotal)
    .bind(input.shipping_cents)
    .bind(input.tax_cents)
    .bind(subtotal + input.shipping_cents + input.tax_cents)
    .bind(&input.carrier)
    .bind(&input.tracking_number)
    .bind(input.placed_at.unwrap_or(now))
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| Error::from_db(e, &format!("order {}", input.number)))?;
    let id: i64 = row.try_get("id")?;
    write_items(&mut tx, id, &input.items).await?;
    tx.commit().await?;
    get_order(db, account_id, id).await
}

pub async fn update_order(db: &Db, account_id: i64, id: i64, input: &OrderInput) -> Result<Order> {
    input.validate()?;
    let old = get_order(db, account_id, id).await?;
    ensure_customer(db, account_id, input.customer_id).await?;
    let subtotal = input.subtotal();
    let mut tx = db.pool().begin().await?;
    sqlx::query(
        "UPDATE orders SET customer_id = $1, number = $2, status = $3, currency = $4, subtotal_cents = $5, \
         shipping_cents = $6, tax_cents = $7, total_cents = $8, carrier = $9, tracking_number = $10, \
         placed_at = $11, updated_at = $12 WHERE id = $13 AND account_id = $14",
    )
    .bind(input.customer_id)
    .bind(&input.number)
    .bind(input.status.as_str())
    .bind(&input.currency)
    .bind(subtotal)
    .bind(input.shipping_cents)
    .bind(input.tax_cents)
    .bind(subtotal + input.shipping_cents + input.tax_cents)
    .bind(&input.carrier)
    .bind(&input.tracking_number)
    .bind(input.placed_at.unwrap_or(old.placed_at))
    .bind(now_ms())
    .bind(id)
    .bind(account_id)
    .execute(&mut *tx)
    .await
    .map_err(|e| Error::from_db(e, &format!("order {}", input.number)))?;
    write_items(&mut tx, id, &input.items).await?;
    tx.commit().await?;
    get_order(db, account_id, id).await
}

pub async fn delete_order(db: &Db, account_id: i64, id: i64) -> Result<()> {
    super::delete_owned(db, super::Owned::Orders, account_id, id).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Open,
    Pending,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketPriority {
    Low,
    Normal,
    High,
    Urgent,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Ticket {
    pub id: i64,
    pub customer_id: i64,
    pub subject: String,
    pub status: TicketStatus,
    pub priority: TicketPriority,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketInput {
    pub customer_id: i64,
    pub subject: String,
    pub status: TicketStatus,
    pub priority: TicketPriority,
}

fn enum_str<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn enum_parse<T: serde::de::DeserializeOwned>(s: String, what: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(s.clone()))
        .map_err(|_| Error::Corrupt(format!("{what} '{s}'")))
}

fn ticket_from_row(row: &sqlx::any::AnyRow) -> Result<Ticket> {
    Ok(Ticket {
        id: row.try_get("id")?,
        customer_id: row.try_get("customer_id")?,
        subject: row.try_get("subject")?,
        status: enum_parse(row.try_get("status")?, "ticket status")?,
        priority: enum_parse(row.try_get("priority")?, "ticket priority")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
pub struct TicketQuery {
    pub customer_id: Option<i64>,
    /// Only tickets that are not closed.
    pub open: Option<bool>,
}

pub async fn list_tickets(db: &Db, account_id: i64, query: &TicketQuery) -> Result<Vec<Ticket>> {
    let rows = sqlx::query(
        "SELECT id, customer_id, subject, status, priority, created_at, updated_at FROM tickets \
         WHERE account_id = $1 AND ($2 IS NULL OR customer_id = $2) AND ($3 = 0 OR status <> 'closed') \
         ORDER BY id DESC LIMIT 1000",
    )
    .bind(account_id)
    .bind(query.customer_id)
    .bind(query.open.unwrap_or(false) as i64)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(ticket_from_row).collect()
}

pub async fn get_ticket(db: &Db, account_id: i64, id: i64) -> Result<Ticket> {
    let row = sqlx::query(
        "SELECT id, customer_id, subject, status, priority, created_at, updated_at FROM tickets \
         WHERE account_id = $1 AND id = $2",
    )
    .bind(account_id)
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or(Error::NotFound)?;
    ticket_from_row(&row)
}

impl TicketInput {
    pub(crate) fn validate(&self) -> Result<()> {
        let mut p = Problems::new();
        p.text("subject", &self.subject, true, 300);
        finish(p)
    }
}

pub async fn create_ticket(db: &Db, account_id: i64, input: &TicketInput) -> Result<Ticket> {
    input.validate()?;
    ensure_customer(db, account_id, input.customer_id).await?;
    let now = now_ms();
    let row = sqlx::query(
        "INSERT INTO tickets (account_id, customer_id, subject, status, priority, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(account_id)
    .bind(input.customer_id)
    .bind(&input.subject)
    .bind(enum_str(&input.status))
    .bind(enum_str(&input.priority))
    .bind(now)
    .fetch_one(db.pool())
    .await?;
    get_ticket(db, account_id, row.try_get("id")?).await
}

pub async fn update_ticket(db: &Db, account_id: i64, id: i64, input: &TicketInput) -> Result<Ticket> {
    input.validate()?;
    get_ticket(db, account_id, id).await?;
    ensure_customer(db, account_id, input.customer_id).await?;
    sqlx::query(
        "UPDATE tickets SET customer_id = $1, subject = $2, status = $3, priority = $4, updated_at = $5 \
         WHERE id = $6 AND account_id = $7",
    )
    .bind(input.customer_id)
    .bind(&input.subject)
    .bind(enum_str(&input.status))
    .bind(enum_str(&input.priority))
    .bind(now_ms())
    .bind(id)
    .bind(account_id)
    .execute(db.pool())
    .await?;
    get_ticket(db, account_id, id).await
}

pub async fn delete_ticket(db: &Db, account_id: i64, id: i64) -> Result<()> {
    super::delete_owned(db, super::Owned::Tickets, account_id, id).await
}
