//! Wall-clock access for the application layer (protocol cores take time as an input instead).

/// Milliseconds since the unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// When an `Instant` of this process was, in milliseconds since the unix epoch (fractional:
/// for lining up stage timings with another clock of the same machine).
pub fn unix_ms_of(at: std::time::Instant) -> f64 {
    let now = std::time::Instant::now();
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0);
    match now.checked_duration_since(at) {
        Some(ago) => wall - ago.as_secs_f64() * 1000.0,
        None => wall + at.duration_since(now).as_secs_f64() * 1000.0,
    }
}

/// The current time, for schedules.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}
