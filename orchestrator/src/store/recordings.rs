//! Call recordings: one row per recording file (a call may have several: stopped and started
//! again), with who started it, how long it is and when it was paused. The files live under
//! the data directory (`recordings/<account>/…`); the rows say where.

use crate::clock::now_ms;
use crate::db::Db;
use crate::error::{Error, Result};
use schemars::JsonSchema;
use serde::Serialize;
use sqlx::Row;

/// A recording of a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Recording {
    pub id: i64,
    pub call_id: i64,
    pub started_at: i64,
    /// Unset while the call is still being recorded.
    pub ended_at: Option<i64>,
    pub duration_ms: i64,
    /// Intervals paused, in milliseconds from the start of the file (silence there).
    pub paused: Vec<[i64; 2]>,
    /// Who started it: `automatic` (the number's, queue's or agent's setting) or a user's name.
    pub started_by: String,
    /// Its transcript: pending (after the call, in the background), done or failed.
    pub transcript: String,
    /// Where the audio is served (WAV, 8 kHz, two channels: the customer left, what they
    /// heard right).
    pub audio_url: String,
}

const COLS: &str =
    "id, call_id, path, started_at, ended_at, duration_ms, paused, started_by, transcript_state";

fn from_row(row: &sqlx::any::AnyRow) -> Result<(Recording, String)> {
    let id: i64 = row.try_get("id")?;
    let paused: String = row.try_get("paused")?;
    Ok((
        Recording {
            id,
            call_id: row.try_get("call_id")?,
            started_at: row.try_get("started_at")?,
            ended_at: row.try_get("ended_at")?,
            duration_ms: row.try_get("duration_ms")?,
            paused: serde_json::from_str(&paused).unwrap_or_default(),
            started_by: row.try_get("started_by")?,
            transcript: row.try_get("transcript_state")?,
            audio_url: format!("/api/recordings/{id}/audio"),
        },
        row.try_get("path")?,
    ))
}

/// Adds a recording of call `call_id` whose file is `path` (relative to the data directory).
pub async fn create(db: &Db, account_id: i64, call_id: i64, path: &str, started_by: &str) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO call_recordings (account_id, call_id, path, started_at, started_by) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(account_id)
    .bind(call_id)
    .bind(path)
    .bind(now_ms())
    .bind(started_by)
    .fetch_one(db.pool())
    .await?;
    Ok(row.try_get("id")?)
}

/// Brings a recording's length and pauses up to date; `ended` closes it.
pub async fn update(db: &Db, id: i64, duration_ms: i64, paused: &[[i64; 2]], ended: bool) -> Result<()> {
    let paused = serde_json::to_string(paused).unwrap_or_else(|_| "[]".into());
    let ended_at = ended.then(now_ms);
    sqlx::query(
        "UPDATE call_recordings SET duration_ms = $1, paused = $2, ended_at = COALESCE($3, ended_at) \
         WHERE id = $4",
    )
    .bind(duration_ms)
    .bind(paused)
    .bind(ended_at)
    .bind(id)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The recordings of a call, oldest first.
pub async fn of_call(db: &Db, call_id: i64) -> Result<Vec<Recording>> {
    let rows = sqlx::query(&format!("SELECT {COLS} FROM call_recordings WHERE call_id = $1 ORDER BY id"))
        .bind(call_id)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(|r| from_row(r).map(|(rec, _)| rec)).collect()
}

/// One recording of the account, with its file's path.
pub async fn get(db: &Db, account_id: i64, id: i64) -> Result<(Recording, String)> {
    let row = sqlx::query(&format!("SELECT {COLS} FROM call_recordings WHERE account_id = $1 AND id = $2"))
        .bind(account_id)
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(Error::NotFound)?;
    from_row(&row)
}

/// Recordings past their account's retention at `now_ms` (the account setting; 0 keeps
/// them), with their files' paths.
pub async fn expired(db: &Db, now_ms: i64) -> Result<Vec<(i64, i64, String)>> {
    let mut out = Vec::new();
    for account in crate::store::accounts::list(db).await? {
        let days = account.settings.recording_retention_days;
        if days == 0 {
            continue;
        }
        let before = now_ms - days as i64 * 86_400_000;
        let rows = sqlx::query(
            "SELECT id, call_id, path FROM call_recordings WHERE account_id = $1 AND started_at < $2 \
             AND ended_at IS NOT NULL",
        )
        .bind(account.id)
        .bind(before)
        .fetch_all(db.pool())
        .await?;
        for r in rows {
            out.push((r.try_get("id")?, r.try_get("call_id")?, r.try_get("path")?));
        }
    }
    Ok(out)
}

/// Removes a recording's row, leaving a `recording_deleted` event in its call's timeline.
pub async fn delete(db: &Db, id: i64, call_id: i64, why: &str) -> Result<()> {
    let mut tx = db.pool().begin().await?;
    sqlx::query("DELETE FROM call_recordings WHERE id = $1").bind(id).execute(&mut *tx).await?;
    let event = serde_json::json!({ "recording": id, "reason": why });
    sqlx::query("INSERT INTO call_events (call_id, at, kind, data) VALUES ($1, $2, 'recording_deleted', $3)")
        .bind(call_id)
        .bind(now_ms())
        .bind(event.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Recordings still open (a previous run died mid-call): id, path and length as last written
/// into the row.
pub async fn still_open(db: &Db) -> Result<Vec<(i64, String, i64)>> {
    let sql = match db.node() {
        Some(_) => {
            "SELECT id, path, duration_ms FROM call_recordings WHERE ended_at IS NULL \
             AND call_id IN (SELECT id FROM call_records WHERE node_id = $1)"
        }
        None => "SELECT id, path, duration_ms FROM call_recordings WHERE ended_at IS NULL",
    };
    let mut query = sqlx::query(sql);
    if let Some(node) = db.node() {
        query = query.bind(node);
    }
    let rows = query.fetch_all(db.pool()).await?;
    rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("path")?, r.try_get("duration_ms")?))).collect()
}

/// Sets an open recording's length (what its file holds, found after a crash).
pub async fn set_length(db: &Db, id: i64, duration_ms: i64) -> Result<()> {
    sqlx::query("UPDATE call_recordings SET duration_ms = $1 WHERE id = $2 AND ended_at IS NULL")
        .bind(duration_ms)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Closes recordings a previous run left open (the process died mid-call): they end where
/// their last update put them (on a node of a cluster, only those of its own calls). Returns
/// how many.
pub async fn close_abandoned(db: &Db) -> Result<u64> {
    close_open(db, db.node()).await
}

/// Closes the open recordings of `node`'s calls (every open recording when `None`) where
/// their last update put them. Returns how many.
pub async fn close_open(db: &Db, node: Option<i64>) -> Result<u64> {
    let sql = match node {
        Some(_) => {
            "UPDATE call_recordings SET ended_at = started_at + duration_ms WHERE ended_at IS NULL \
             AND call_id IN (SELECT id FROM call_records WHERE node_id = $1)"
        }
        None => "UPDATE call_recordings SET ended_at = started_at + duration_ms WHERE ended_at IS NULL",
    };
    let mut query = sqlx::query(sql);
    if let Some(node) = node {
        query = query.bind(node);
    }
    let done = query.execute(db.pool()).await?;
    Ok(done.rows_affected())
}

/// A finished recording waiting to be transcribed, with what naming its lines needs.
#[derive(Debug, Clone)]
pub struct ToTranscribe {
    pub id: i64,
    pub account_id: i64,
    pub call_id: i64,
    pub path: String,
    /// The recording's start in the call's time (ms after the call started).
    pub offset_ms: i64,
    /// The agent whose call it is (their name goes on the right channel's lines).
    pub agent_extension: Option<String>,
}

/// The oldest finished recording not transcribed yet.
pub async fn next_to_transcribe(db: &Db) -> Result<Option<ToTranscribe>> {
    let row = sqlx::query(
        "SELECT r.id, r.account_id, r.call_id, r.path, r.started_at - c.started_at AS offset_ms, \
                c.agent_extension \
         FROM call_recordings r JOIN call_records c ON c.id = r.call_id \
         WHERE r.transcript_state = 'pending' AND r.ended_at IS NOT NULL ORDER BY r.id LIMIT 1",
    )
    .fetch_optional(db.pool())
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(ToTranscribe {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        call_id: r.try_get("call_id")?,
        path: r.try_get("path")?,
        offset_ms: r.try_get::<i64, _>("offset_ms")?.max(0),
        agent_extension: r.try_get("agent_extension")?,
    }))
}

/// Whether a line transcribed from a recording says again what the call's live transcript
/// already has: the same side (the customer; or the agent, AI or person) at an overlapping time.
/// An AI call keeps its live transcript; its recording adds only what the live one lacks (a
/// person who took over, say).
pub fn already_said(line: &crate::store::calls::TranscriptLine, live: &[(String, i64, i64)]) -> bool {
    let side = |speaker: &str| if speaker == "caller" { "caller" } else { "agent" };
    live.iter().any(|(speaker, start, end)| {
        side(speaker) == side(&line.speaker) && *start < line.end_ms && line.start_ms < *end
    })
}

/// Stores a recording's transcript (lines in the call's time, less what the live transcript
/// already has: see `already_said`) and marks it done, with a `recording_transcribed` event;
/// or marks it failed with the reason.
pub async fn transcribed(
    db: &Db,
    job: &ToTranscribe,
    outcome: std::result::Result<&[crate::store::calls::TranscriptLine], &str>,
) -> Result<()> {
    let live: Vec<(String, i64, i64)> =
        sqlx::query("SELECT speaker, start_ms, end_ms FROM transcripts WHERE call_id = $1")
            .bind(job.call_id)
            .fetch_all(db.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("speaker")?, r.try_get("start_ms")?, r.try_get("end_ms")?)))
            .collect::<Result<_>>()?;
    let kept: Vec<crate::store::calls::TranscriptLine>;
    let outcome = match outcome {
        Ok(lines) => {
            kept = lines.iter().filter(|l| !already_said(l, &live)).cloned().collect();
            Ok(&kept[..])
        }
        Err(why) => Err(why),
    };
    let mut tx = db.pool().begin().await?;
    let (state, error, event) = match outcome {
        Ok(lines) => {
            for l in lines {
                sqlx::query(
                    "INSERT INTO transcripts (call_id, speaker, name, start_ms, end_ms, text) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(job.call_id)
                .bind(&l.speaker)
                .bind(&l.name)
                .bind(l.start_ms)
                .bind(l.end_ms)
                .bind(&l.text)
                .execute(&mut *tx)
                .await?;
            }
            ("done", None, serde_json::json!({ "recording": job.id, "lines": lines.len() }))
        }
        Err(why) => {
            ("failed", Some(why.to_string()), serde_json::json!({ "recording": job.id, "error": why }))
        }
    };
    sqlx::query("UPDATE call_recordings SET transcript_state = $1, transcript_error = $2 WHERE id = $3")
        .bind(state)
        .bind(error)
        .bind(job.id)
        .execute(&mut *tx)
        .await?;
    let kind = if state == "done" { "recording_transcribed" } else { "recording_not_transcribed" };
    sqlx::query("INSERT INTO call_events (call_id, at, kind, data) VALUES ($1, $2, $3, $4)")
        .bind(job.call_id)
        .bind(now_ms())
        .bind(kind)
        .bind(event.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::already_said;
    use crate::store::calls::TranscriptLine;

    fn line(speaker: &str, start_ms: i64, end_ms: i64) -> TranscriptLine {
        TranscriptLine { speaker: speaker.into(), name: None, start_ms, end_ms, text: "x".into() }
    }

    #[test]
    fn a_recordings_lines_that_the_live_transcript_has_are_left_out() {
        // An AI call's live transcript: the caller, then the AI.
        let live = vec![("caller".to_string(), 1000, 3000), ("ai".to_string(), 3500, 6000)];
        assert!(already_said(&line("caller", 1100, 2900), &live));
        assert!(already_said(&line("agent", 3600, 5000), &live), "the AI, heard on the agent's channel");
        // The same time on the other side is something else said; later lines are new (a
        // person who took the call over).
        assert!(!already_said(&line("agent", 1100, 2900), &live));
        assert!(!already_said(&line("caller", 6500, 8000), &live));
        assert!(!already_said(&line("agent", 9000, 9500), &live));
        assert!(!already_said(&line("caller", 3000, 3400), &live), "touching is not overlapping");
    }
}
