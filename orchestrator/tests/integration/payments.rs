//! Payments taken on calls, as stored for order entry: the call's customer is filled in, the
//! list filters by customer and call and never shows another account's; through the API, the
//! list is for supervisors and up.

use crate::common::{call, on_each_db};
use crate::role_matrix::fixture;
use axum::http::{Method, StatusCode};
use switchboard::model::Role;
use switchboard::store::payments::{self, NewPayment, PaymentQuery};

fn payment(call_id: Option<i64>, token: &str) -> NewPayment<'_> {
    NewPayment {
        call_id,
        processor: "stripe",
        token,
        brand: "visa",
        last4: "4242",
        exp_month: 12,
        exp_year: 2030,
        amount_minor: Some(2500),
        currency: Some("usd"),
        charge_id: Some("ch_1"),
        status: "succeeded",
        taken_by: "Alice",
    }
}

#[tokio::test]
async fn payments_are_stored_with_the_calls_customer_and_listed_per_account() {
    on_each_db(|db| async move {
        let a = fixture(&db, "acme", "+1555").await;
        let b = fixture(&db, "globex", "+1666").await;
        let call_a = a.ids["/api/calls"];
        let id = payments::insert(&db, a.account_id, &payment(Some(call_a), "tok_a")).await.unwrap();
        payments::insert(&db, a.account_id, &payment(None, "tok_loose")).await.unwrap();
        payments::insert(&db, b.account_id, &payment(Some(b.ids["/api/calls"]), "tok_b")).await.unwrap();
        // Another account's call is not this account's: no customer is taken from it.
        payments::insert(&db, a.account_id, &payment(Some(b.ids["/api/calls"]), "tok_odd")).await.unwrap();

        let all = payments::list(&db, a.account_id, &PaymentQuery::default()).await.unwrap();
        let tokens: Vec<&str> = all.iter().map(|p| p.token.as_str()).collect();
        assert_eq!(tokens, ["tok_odd", "tok_loose", "tok_a"], "newest first, this account's only");
        let of_call =
            payments::list(&db, a.account_id, &PaymentQuery { call_id: Some(call_a), ..Default::default() })
                .await
                .unwrap();
        assert_eq!(of_call.len(), 1);
        let p = &of_call[0];
        assert_eq!(
            (p.id, p.customer_id, p.amount_minor, p.status.as_str()),
            (id, Some(a.customer_id), Some(2500), "succeeded")
        );
        assert_eq!(all.iter().find(|p| p.token == "tok_odd").unwrap().customer_id, None);
        let of_customer = payments::list(
            &db,
            a.account_id,
            &PaymentQuery { customer_id: Some(a.customer_id), ..Default::default() },
        )
        .await
        .unwrap();
        assert_eq!(of_customer.iter().map(|p| p.token.as_str()).collect::<Vec<_>>(), ["tok_a"]);

        let app = crate::common::app_in(&db, switchboard::live::Live::new(), std::env::temp_dir());
        let r =
            call(&app, Method::GET, "/api/payments?limit=2", Some(&a.cookies[&Role::Supervisor]), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json.as_array().unwrap().len(), 2);
        assert!(!r.text.contains("tok_b"));
        let r = call(&app, Method::GET, "/api/payments", Some(&a.cookies[&Role::Agent]), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    })
    .await;
}
