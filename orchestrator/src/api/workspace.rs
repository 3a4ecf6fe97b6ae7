//! The agent workspace's view of the customer on the line: agents may read the customer of a
//! call they are on (or wrapping up), match an unknown caller to a customer, and nothing more
//! of the store (the rest of it is for supervisors and up). After a call, they save an outcome
//! and notes on its record.

use super::error::ApiResult;
use super::extract::{Id, JsonBody, QueryParams};
use super::{Access, Api, AppState, Principal};
use crate::error::Error;
use crate::model::Role;
use crate::store::calls::{self, CallRecord};
use crate::store::commerce::{
    self, Customer, CustomerPhone, CustomerQuery, Order, OrderQuery, Ticket, TicketQuery,
};
use crate::store::wrapups::{self, WrapUp};
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

/// What an agent needs about a customer during a call.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CustomerSnapshot {
    pub customer: Customer,
    /// The latest orders, newest first, with items, status and tracking.
    pub orders: Vec<Order>,
    pub open_tickets: Vec<Ticket>,
    /// The latest calls with this customer, newest first.
    pub recent_calls: Vec<CallRecord>,
}

/// One of the agent's calls (or the one they wrap up): the other party's number and the
/// customer it matches, if any.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CallCustomer {
    pub number: String,
    pub snapshot: Option<CustomerSnapshot>,
    /// The call's record (where the agent's notes and outcome go), once it is written.
    pub call_id: Option<i64>,
}

async fn snapshot(st: &AppState, account: i64, customer: Customer) -> crate::error::Result<CustomerSnapshot> {
    let orders = commerce::list_orders(
        &st.db,
        account,
        &OrderQuery { customer_id: Some(customer.id), limit: Some(5), ..Default::default() },
    )
    .await?;
    let open_tickets = commerce::list_tickets(
        &st.db,
        account,
        &TicketQuery { customer_id: Some(customer.id), open: Some(true) },
    )
    .await?;
    let recent_calls = calls::list_for_customer(&st.db, account, customer.id, 5).await?;
    Ok(CustomerSnapshot { customer, orders, open_tickets, recent_calls })
}

async fn by_number(
    st: &AppState,
    account: i64,
    number: &str,
) -> crate::error::Result<Option<CustomerSnapshot>> {
    let query = CustomerQuery { phone: Some(number.to_string()), limit: Some(1), ..Default::default() };
    match commerce::list_customers(&st.db, account, &query).await?.into_iter().next() {
        Some(c) => Ok(Some(snapshot(st, account, c).await?)),
        None => Ok(None),
    }
}

/// The customers of my calls now.
async fn my_customers(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Vec<CallCustomer>>> {
    let extension = p.own_extension()?;
    let mut out = Vec::new();
    for line in st.live.agents().lines(p.account_id, &extension) {
        let Some(number) = line.peer else { continue };
        let snapshot = by_number(&st, p.account_id, &number).await?;
        let call_id = match (&st.records, line.record) {
            (Some(records), Some(key)) => records.id_of(key).await,
            _ => None,
        };
        out.push(CallCustomer { number, snapshot, call_id });
    }
    Ok(Json(out))
}

/// The customers (matched by the other party's number) of my calls now.
pub(super) async fn my_customer_ids(st: &AppState, p: &Principal) -> Vec<i64> {
    let Some(extension) = &p.agent_extension else { return Vec::new() };
    let mut out = Vec::new();
    for line in st.live.agents().lines(p.account_id, extension) {
        let Some(number) = line.peer else { continue };
        let query = CustomerQuery { phone: Some(number), limit: Some(1), ..Default::default() };
        if let Ok(found) = commerce::list_customers(&st.db, p.account_id, &query).await {
            out.extend(found.into_iter().map(|c| c.id));
        }
    }
    out
}

/// The records of my calls now (or of the call I wrap up).
/// Checks that call `id` is one the user handles: any of the account's for supervisors and up;
/// for agents, calls whose record is theirs and calls they are on or wrapping up now (a call
/// they placed that someone else answered, say).
pub(super) async fn handled(st: &AppState, p: &Principal, id: i64) -> Result<(), Error> {
    let scope = p.agent_scope()?;
    match calls::visible(&st.db, p.account_id, id, scope).await {
        Ok(()) => Ok(()),
        Err(Error::NotFound) if scope.is_some() && my_call_ids(st, p).await.contains(&id) => Ok(()),
        Err(e) => Err(e),
    }
}

pub(super) async fn my_call_ids(st: &AppState, p: &Principal) -> Vec<i64> {
    let (Some(records), Some(extension)) = (&st.records, &p.agent_extension) else { return Vec::new() };
    let mut out = Vec::new();
    for line in st.live.agents().lines(p.account_id, extension) {
        let Some(key) = line.record else { continue };
        if let Some(id) = records.id_of(key).await {
            out.push(id);
        }
    }
    out
}

/// The numbers of my calls now; refused when I am on none.
fn my_numbers(st: &AppState, p: &Principal) -> Result<Vec<String>, Error> {
    let numbers = st.live.agents().peers(p.account_id, &p.own_extension()?);
    if numbers.is_empty() {
        return Err(Error::Conflict("you are not on a call".into()));
    }
    Ok(numbers)
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Part of a name, an e-mail address, or a phone number.
    pub q: String,
}

/// Finds customers to match an unknown caller with (while I am on a call).
async fn search(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    QueryParams(q): QueryParams<SearchQuery>,
) -> ApiResult<Json<Vec<Customer>>> {
    my_numbers(&st, &p)?;
    let text = q.q.trim();
    if text.chars().count() < 2 {
        return Err(Error::invalid("q", "type at least two characters").into());
    }
    let query = if text.contains('@') {
        CustomerQuery { email: Some(text.to_string()), limit: Some(10), ..Default::default() }
    } else if text.starts_with('+') && text.len() > 5 {
        CustomerQuery { phone: Some(text.to_string()), limit: Some(10), ..Default::default() }
    } else {
        CustomerQuery { q: Some(text.to_string()), limit: Some(10), ..Default::default() }
    };
    Ok(Json(commerce::list_customers(&st.db, p.account_id, &query).await?))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// The caller's number (one of my calls').
    pub number: String,
    pub customer_id: i64,
}

/// Links the caller of one of my calls to a customer: the number joins the customer's phones,
/// so their next call is matched by itself.
async fn link(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    JsonBody(req): JsonBody<LinkRequest>,
) -> ApiResult<(StatusCode, Json<CustomerSnapshot>)> {
    if !my_numbers(&st, &p)?.contains(&req.number) {
        return Err(Error::Conflict("that number is not on one of your calls".into()).into());
    }
    let mut customer = commerce::get_customer(&st.db, p.account_id, req.customer_id).await?;
    if !customer.phones.iter().any(|ph| ph.number == req.number) {
        let mut input = commerce::CustomerInput {
            name: customer.name.clone(),
            phones: customer.phones.clone(),
            emails: customer.emails.clone(),
            balance_cents: customer.balance_cents,
            currency: customer.currency.clone(),
            notes: customer.notes.clone(),
        };
        input.phones.push(CustomerPhone { number: req.number.clone(), label: "linked by an agent".into() });
        customer = commerce::update_customer(&st.db, p.account_id, customer.id, &input).await?;
    }
    Ok((StatusCode::CREATED, Json(snapshot(&st, p.account_id, customer).await?)))
}

/// The outcomes to choose from after a call, and what I saved on this one.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct WrapUpForm {
    pub codes: Vec<String>,
    pub mine: Option<WrapUp>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WrapUpRequest {
    /// One of the account's wrap-up codes.
    #[serde(default)]
    pub outcome: Option<String>,
    #[serde(default)]
    pub notes: String,
}

/// Checks that the user may write on call `id` and returns the account's wrap-up codes.
/// Agents write on their own calls: those whose record is theirs, and those they are on or
/// wrapping up now (a call they placed that someone else answered, say).
async fn writable(st: &AppState, p: &Principal, id: i64) -> Result<Vec<String>, Error> {
    handled(st, p, id).await?;
    let account = crate::store::accounts::get(&st.db, p.account_id).await?;
    Ok(account.settings.wrap_up_codes)
}

async fn get_wrap_up(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> ApiResult<Json<WrapUpForm>> {
    let user = p.user_id.ok_or_else(|| Error::Forbidden("notes are written by signed-in users".into()))?;
    let codes = writable(&st, &p, id).await?;
    Ok(Json(WrapUpForm { codes, mine: wrapups::mine(&st.db, id, user).await? }))
}

/// Saves my outcome and notes on a call (agents: on their own calls).
async fn put_wrap_up(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    JsonBody(req): JsonBody<WrapUpRequest>,
) -> ApiResult<Json<WrapUp>> {
    let user = p.user_id.ok_or_else(|| Error::Forbidden("notes are written by signed-in users".into()))?;
    let codes = writable(&st, &p, id).await?;
    let outcome = req.outcome.as_deref().map(str::trim).filter(|o| !o.is_empty());
    if let Some(o) = outcome {
        if !codes.iter().any(|c| c == o) {
            return Err(Error::invalid("outcome", format!("must be one of: {}", codes.join(", "))).into());
        }
    }
    let notes = req.notes.trim();
    if notes.chars().count() > 5000 {
        return Err(Error::invalid("notes", "must be at most 5000 characters").into());
    }
    if outcome.is_none() && notes.is_empty() {
        return Err(Error::invalid("outcome", "choose an outcome or write a note").into());
    }
    let author = wrapups::Author { user_id: user, name: &p.name, extension: p.agent_extension.as_deref() };
    Ok(Json(wrapups::save(&st.db, id, &author, outcome, notes).await?))
}

pub fn routes(api: &mut Api) {
    let (customers, found, link_body, linked) = (
        api.schema::<Vec<CallCustomer>>(),
        api.schema::<Vec<Customer>>(),
        api.schema::<LinkRequest>(),
        api.schema::<CustomerSnapshot>(),
    );
    api.add(
        Method::GET,
        "/api/me/customers",
        Access::AtLeast(Role::Agent),
        "workspace",
        "The customers of my calls now (or of the call I am wrapping up)",
        None,
        customers,
        my_customers,
    );
    api.add(
        Method::GET,
        "/api/me/customers/search",
        Access::AtLeast(Role::Agent),
        "workspace",
        "Find a customer to match my caller with (while on a call)",
        None,
        found,
        search,
    );
    let (form, wrap_body, wrap) =
        (api.schema::<WrapUpForm>(), api.schema::<WrapUpRequest>(), api.schema::<WrapUp>());
    api.add(
        Method::GET,
        "/api/calls/{id}/wrap-up",
        Access::AtLeast(Role::Agent),
        "calls",
        "The outcomes to choose from after a call, and my notes on it (agents: their own calls)",
        None,
        form,
        get_wrap_up,
    );
    api.add(
        Method::PUT,
        "/api/calls/{id}/wrap-up",
        Access::AtLeast(Role::Agent),
        "calls",
        "Save my outcome and notes on a call (agents: their own calls)",
        wrap_body,
        wrap,
        put_wrap_up,
    );
    api.add(
        Method::POST,
        "/api/me/customers/link",
        Access::AtLeast(Role::Agent),
        "workspace",
        "Link my caller's number to a customer",
        link_body,
        linked,
        link,
    );
}
