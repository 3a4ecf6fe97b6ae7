//! Queries, grouped by the data they touch. Every query that reads account data is scoped by
//! `account_id`: nothing here can return another account's rows.

pub mod accounts;
pub mod bindings;
pub mod call_cost;
pub mod call_history;
pub mod calls;
pub mod cluster;
pub mod commerce;
pub mod config;
pub mod conversations;
pub mod payments;
pub mod presence;
pub mod queue_stats;
pub mod recordings;
pub mod shared_live;
pub mod shared_queues;
pub mod softphone;
pub mod users;
pub mod voicemail;
pub mod wrapups;

use sqlx::Row;

/// Reads a 0/1 integer column as a flag.
pub(crate) fn flag(row: &sqlx::any::AnyRow, col: &str) -> Result<bool, sqlx::Error> {
    Ok(row.try_get::<i64, _>(col)? != 0)
}

/// Tables whose rows are deleted by id within an account.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Owned {
    Customers,
    Orders,
    Tickets,
    Users,
}

/// Deletes one row of an account's table; `NotFound` when the account has no such row.
pub(crate) async fn delete_owned(
    db: &crate::db::Db,
    table: Owned,
    account_id: i64,
    id: i64,
) -> crate::error::Result<()> {
    let sql = match table {
        Owned::Customers => "DELETE FROM customers WHERE id = $1 AND account_id = $2",
        Owned::Orders => "DELETE FROM orders WHERE id = $1 AND account_id = $2",
        Owned::Tickets => "DELETE FROM tickets WHERE id = $1 AND account_id = $2",
        Owned::Users => "DELETE FROM users WHERE id = $1 AND account_id = $2",
    };
    let done = sqlx::query(sql).bind(id).bind(account_id).execute(db.pool()).await?;
    if done.rows_affected() == 0 {
        return Err(crate::error::Error::NotFound);
    }
    Ok(())
}
