//! Wall-clock access for the application layer (protocol cores take time as an input instead).

/// Milliseconds since the unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The current time, for schedules.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}
