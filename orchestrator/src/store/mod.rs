//! Queries, grouped by the data they touch. Every query that reads account data is scoped by
//! `account_id`: nothing here can return another account's rows.

pub mod accounts;
pub mod calls;
pub mod commerce;
pub mod config;
pub mod users;

use sqlx::Row;

/// Reads a 0/1 integer column as a flag.
pub(crate) fn flag(row: &sqlx::any::AnyRow, col: &str) -> Result<bool, sqlx::Error> {
    Ok(row.try_get::<i64, _>(col)? != 0)
}
