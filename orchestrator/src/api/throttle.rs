//! Slows down password guessing: after `MAX_FAILURES` wrong passwords for one e-mail within
//! `WINDOW`, logins for that e-mail are refused (429) until the window has passed. The count is
//! in the database (`login_failures`): every node of a cluster sees the same guesses.

use crate::db::Db;
use crate::error::Result;
use sqlx::Row;

pub const MAX_FAILURES: i64 = 5;
pub const WINDOW_MS: i64 = 15 * 60 * 1000;

/// Seconds to wait before trying again, if this e-mail is locked out at `now` (unix ms).
pub async fn retry_after(db: &Db, email: &str, now: i64) -> Result<Option<u64>> {
    let row = sqlx::query("SELECT failures, since FROM login_failures WHERE email = $1")
        .bind(email.to_lowercase())
        .fetch_optional(db.pool())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let (failures, since): (i64, i64) = (row.try_get("failures")?, row.try_get("since")?);
    let elapsed = now.saturating_sub(since).max(0);
    let locked = failures >= MAX_FAILURES && elapsed < WINDOW_MS;
    Ok(locked.then(|| ((WINDOW_MS - elapsed) / 1000).max(1) as u64))
}

/// One more wrong password for `email` (a new window when the last one has passed).
pub async fn failed(db: &Db, email: &str, now: i64) -> Result<()> {
    let start = now - WINDOW_MS;
    // Expired counts go (a spray of made-up e-mails leaves nothing behind for long).
    sqlx::query("DELETE FROM login_failures WHERE since <= $1").bind(start).execute(db.pool()).await?;
    sqlx::query(
        "INSERT INTO login_failures (email, failures, since) VALUES ($1, 1, $2) \
         ON CONFLICT (email) DO UPDATE SET \
         failures = CASE WHEN login_failures.since <= $3 THEN 1 ELSE login_failures.failures + 1 END, \
         since = CASE WHEN login_failures.since <= $3 THEN $2 ELSE login_failures.since END",
    )
    .bind(email.to_lowercase())
    .bind(now)
    .bind(start)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// A right password: the count for `email` starts again.
pub async fn succeeded(db: &Db, email: &str) -> Result<()> {
    sqlx::query("DELETE FROM login_failures WHERE email = $1")
        .bind(email.to_lowercase())
        .execute(db.pool())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn locks_after_repeated_failures_and_expires() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&Db::sqlite_url(dir.path())).await.unwrap();
        let start = 1_000_000;
        for _ in 0..MAX_FAILURES - 1 {
            failed(&db, "a@b.example", start).await.unwrap();
        }
        assert_eq!(retry_after(&db, "a@b.example", start).await.unwrap(), None);
        failed(&db, "A@b.example", start).await.unwrap();
        let wait = retry_after(&db, "a@b.example", start + 60_000).await.unwrap();
        assert_eq!(wait, Some(((WINDOW_MS - 60_000) / 1000) as u64));
        assert_eq!(retry_after(&db, "other@b.example", start).await.unwrap(), None);
        assert_eq!(retry_after(&db, "a@b.example", start + WINDOW_MS).await.unwrap(), None);
        // After the window, a failure starts a new count.
        failed(&db, "a@b.example", start + WINDOW_MS + 1).await.unwrap();
        assert_eq!(retry_after(&db, "a@b.example", start + WINDOW_MS + 2).await.unwrap(), None);
        for _ in 0..MAX_FAILURES {
            failed(&db, "a@b.example", start + WINDOW_MS + 3).await.unwrap();
        }
        assert!(retry_after(&db, "a@b.example", start + WINDOW_MS + 4).await.unwrap().is_some());
        succeeded(&db, "a@b.example").await.unwrap();
        assert_eq!(retry_after(&db, "a@b.example", start + WINDOW_MS + 4).await.unwrap(), None);
    }
}
