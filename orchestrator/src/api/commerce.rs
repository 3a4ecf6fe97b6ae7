//! Customers, orders and tickets.

use super::error::ApiResult;
use super::extract::{Id, JsonBody, QueryParams};
use super::{Access, Api, AppState, Principal};
use crate::model::Role;
use crate::store::commerce::{self as c, *};
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::{Extension, Json};

macro_rules! crud {
    ($list:ident, $get:ident, $create:ident, $update:ident, $delete:ident,
     $ty:ty, $input:ty, $query:ty,
     $s_list:path, $s_get:path, $s_create:path, $s_update:path, $s_delete:path) => {
        async fn $list(
            State(st): State<AppState>,
            Extension(p): Extension<Principal>,
            QueryParams(q): QueryParams<$query>,
        ) -> ApiResult<Json<Vec<$ty>>> {
            Ok(Json($s_list(&st.db, p.account_id, &q).await?))
        }
        async fn $get(
            State(st): State<AppState>,
            Extension(p): Extension<Principal>,
            Id(id): Id,
        ) -> ApiResult<Json<$ty>> {
            Ok(Json($s_get(&st.db, p.account_id, id).await?))
        }
        async fn $create(
            State(st): State<AppState>,
            Extension(p): Extension<Principal>,
            JsonBody(input): JsonBody<$input>,
        ) -> ApiResult<(StatusCode, Json<$ty>)> {
            Ok((StatusCode::CREATED, Json($s_create(&st.db, p.account_id, &input).await?)))
        }
        async fn $update(
            State(st): State<AppState>,
            Extension(p): Extension<Principal>,
            Id(id): Id,
            JsonBody(input): JsonBody<$input>,
        ) -> ApiResult<Json<$ty>> {
            Ok(Json($s_update(&st.db, p.account_id, id, &input).await?))
        }
        async fn $delete(
            State(st): State<AppState>,
            Extension(p): Extension<Principal>,
            Id(id): Id,
        ) -> ApiResult<StatusCode> {
            $s_delete(&st.db, p.account_id, id).await?;
            Ok(StatusCode::NO_CONTENT)
        }
    };
}

crud!(
    list_customers,
    get_customer,
    create_customer,
    update_customer,
    delete_customer,
    Customer,
    CustomerInput,
    CustomerQuery,
    c::list_customers,
    c::get_customer,
    c::create_customer,
    c::update_customer,
    c::delete_customer
);
crud!(
    list_orders,
    get_order,
    create_order,
    update_order,
    delete_order,
    Order,
    OrderInput,
    OrderQuery,
    c::list_orders,
    c::get_order,
    c::create_order,
    c::update_order,
    c::delete_order
);
crud!(
    list_tickets,
    get_ticket,
    create_ticket,
    update_ticket,
    delete_ticket,
    Ticket,
    TicketInput,
    TicketQuery,
    c::list_tickets,
    c::get_ticket,
    c::create_ticket,
    c::update_ticket,
    c::delete_ticket
);

pub fn routes(api: &mut Api) {
    // Supervisors see customer data (team data, screen pops); admins maintain it.
    let (read, write) = (Access::AtLeast(Role::Supervisor), Access::AtLeast(Role::Admin));
    macro_rules! reg {
        ($base:literal, $tag:literal, $one:literal, $ty:ty, $input:ty, $list:ident, $get:ident, $create:ident, $update:ident, $delete:ident, [$($q:literal),*]) => {{
            let (one, many, input) = (api.schema::<$ty>(), api.schema::<Vec<$ty>>(), api.schema::<$input>());
            let item = concat!($base, "/{id}");
            api.add(Method::GET, $base, read, $tag, concat!("List ", $tag), None, many, $list).query = vec![$($q),*];
            api.add(Method::POST, $base, write, $tag, concat!("Create a ", $one), input.clone(), one.clone(), $create);
            api.add(Method::GET, item, read, $tag, concat!("Get a ", $one), None, one.clone(), $get);
            api.add(Method::PUT, item, write, $tag, concat!("Replace a ", $one), input, one, $update);
            api.add(Method::DELETE, item, write, $tag, concat!("Delete a ", $one), None, None, $delete);
        }};
    }
    reg!(
        "/api/customers",
        "customers",
        "customer",
        Customer,
        CustomerInput,
        list_customers,
        get_customer,
        create_customer,
        update_customer,
        delete_customer,
        ["phone", "email", "q", "limit", "offset"]
    );
    reg!(
        "/api/orders",
        "orders",
        "order",
        Order,
        OrderInput,
        list_orders,
        get_order,
        create_order,
        update_order,
        delete_order,
        ["customer_id", "number", "limit", "offset"]
    );
    reg!(
        "/api/tickets",
        "tickets",
        "ticket",
        Ticket,
        TicketInput,
        list_tickets,
        get_ticket,
        create_ticket,
        update_ticket,
        delete_ticket,
        ["customer_id", "open"]
    );
}
