//! The database behind the built-in commerce tools: the orchestrator's store, read for one
//! account, as the `tools` crate's `CommerceStore`.

use crate::db::Db;
use crate::store::commerce;
use serde_json::Value;
use switchboard_tools::commerce::{CommerceStore, CustomerKey, StoreFuture};

pub struct DbStore(pub Db);

fn json<T: serde::Serialize>(v: T) -> Result<Value, String> {
    serde_json::to_value(v).map_err(|e| e.to_string())
}

impl CommerceStore for DbStore {
    fn customers<'a>(&'a self, account: i64, key: CustomerKey) -> StoreFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let found = match key {
                CustomerKey::Id(id) => match commerce::get_customer(&self.0, account, id).await {
                    Ok(c) => vec![c],
                    Err(crate::error::Error::NotFound) => vec![],
                    Err(e) => return Err(e.to_string()),
                },
                key => {
                    let mut q = commerce::CustomerQuery { limit: Some(5), ..Default::default() };
                    match key {
                        CustomerKey::Phone(p) => q.phone = Some(p),
                        CustomerKey::Email(e) => q.email = Some(e),
                        CustomerKey::Name(n) => q.q = Some(n),
                        CustomerKey::Id(_) => {}
                    }
                    commerce::list_customers(&self.0, account, &q).await.map_err(|e| e.to_string())?
                }
            };
            found.into_iter().map(json).collect()
        })
    }

    fn order<'a>(&'a self, account: i64, number: &'a str) -> StoreFuture<'a, Option<Value>> {
        Box::pin(async move {
            let q = commerce::OrderQuery {
                number: Some(number.to_string()),
                limit: Some(1),
                ..Default::default()
            };
            let found = commerce::list_orders(&self.0, account, &q).await.map_err(|e| e.to_string())?;
            found.into_iter().next().map(json).transpose()
        })
    }

    fn orders_of<'a>(&'a self, account: i64, customer: i64, limit: usize) -> StoreFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let q = commerce::OrderQuery {
                customer_id: Some(customer),
                limit: Some(limit as i64),
                ..Default::default()
            };
            let found = commerce::list_orders(&self.0, account, &q).await.map_err(|e| e.to_string())?;
            found.into_iter().map(json).collect()
        })
    }

    fn tickets_of<'a>(&'a self, account: i64, customer: i64) -> StoreFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let q = commerce::TicketQuery { customer_id: Some(customer), open: None };
            let found = commerce::list_tickets(&self.0, account, &q).await.map_err(|e| e.to_string())?;
            found.into_iter().map(json).collect()
        })
    }
}
