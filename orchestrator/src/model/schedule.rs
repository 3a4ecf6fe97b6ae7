//! Business hours: weekly opening times, holidays and a time zone, choosing between targets.

use super::target::{check_opt_target, check_target, target_refs};
use super::{ConfigKind, Problems, Reference, Target};
use chrono::{DateTime, Datelike, DurationRound, NaiveDate, NaiveTime, TimeZone, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    fn from_chrono(d: chrono::Weekday) -> Self {
        match d {
            chrono::Weekday::Mon => Weekday::Mon,
            chrono::Weekday::Tue => Weekday::Tue,
            chrono::Weekday::Wed => Weekday::Wed,
            chrono::Weekday::Thu => Weekday::Thu,
            chrono::Weekday::Fri => Weekday::Fri,
            chrono::Weekday::Sat => Weekday::Sat,
            chrono::Weekday::Sun => Weekday::Sun,
        }
    }
}

/// Open from `open` to `close` (local `HH:MM`, close after open) on the listed days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenHours {
    pub days: Vec<Weekday>,
    pub open: String,
    pub close: String,
}

/// A closed day (`YYYY-MM-DD`, local date).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    pub date: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub name: String,
    /// IANA time zone, e.g. `America/New_York`.
    pub time_zone: String,
    pub weekly: Vec<OpenHours>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holidays: Vec<Holiday>,
    pub open_target: Target,
    pub closed_target: Target,
    /// Used on holidays (the closed target when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holiday_target: Option<Target>,
}

fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    if s.len() != 5 {
        return None;
    }
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

/// Whether a schedule is open at an instant (a holiday is closed, with its own target).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Hours {
    Open,
    Closed,
    Holiday,
}

/// How far ahead [`Schedule::next_change`] looks (a week and a day: every weekly opening and
/// the holiday after tomorrow are found).
pub const LOOK_AHEAD_MINUTES: i64 = 8 * 24 * 60;

impl Schedule {
    /// Where a call arriving at `now` goes. Invalid stored data counts as closed.
    pub fn target_at(&self, now: DateTime<Utc>) -> &Target {
        self.target_for(self.hours_at(now))
    }

    /// The target calls take while the schedule is in `hours`.
    pub fn target_for(&self, hours: Hours) -> &Target {
        match hours {
            Hours::Holiday => self.holiday_target.as_ref().unwrap_or(&self.closed_target),
            Hours::Open => &self.open_target,
            Hours::Closed => &self.closed_target,
        }
    }

    /// Whether the schedule is open at `now` (a holiday is closed).
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.hours_at(now) == Hours::Open
    }

    /// The local time at `now` as people read it (`Fri 14:05 EST`), or None for a bad zone.
    pub fn local_time(&self, now: DateTime<Utc>) -> Option<String> {
        let tz = self.time_zone.parse::<chrono_tz::Tz>().ok()?;
        Some(tz.from_utc_datetime(&now.naive_utc()).format("%a %d %b %H:%M %Z").to_string())
    }

    /// The first whole minute after `now` (within [`LOOK_AHEAD_MINUTES`]) at which the hours
    /// change, and what they become; None when they never do (always open, always closed).
    pub fn next_change(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, Hours)> {
        let current = self.hours_at(now);
        let minute = chrono::Duration::minutes(1);
        let start = now.duration_trunc(minute).ok()? + minute;
        (0..LOOK_AHEAD_MINUTES).map(|m| start + chrono::Duration::minutes(m)).find_map(|at| {
            let hours = self.hours_at(at);
            (hours != current).then_some((at, hours))
        })
    }

    /// Whether the schedule is open, closed or on a holiday at `now` (invalid stored data
    /// counts as closed).
    pub fn hours_at(&self, now: DateTime<Utc>) -> Hours {
        let Ok(tz) = self.time_zone.parse::<chrono_tz::Tz>() else { return Hours::Closed };
        let local = tz.from_utc_datetime(&now.naive_utc());
        let date = local.date_naive().format("%Y-%m-%d").to_string();
        if self.holidays.iter().any(|h| h.date == date) {
            return Hours::Holiday;
        }
        let day = Weekday::from_chrono(local.weekday());
        let time = local.time();
        let open = self.weekly.iter().any(|h| {
            h.days.contains(&day)
                && matches!((parse_hhmm(&h.open), parse_hhmm(&h.close)),
                    (Some(o), Some(c)) if o <= time && time < c)
        });
        if open {
            Hours::Open
        } else {
            Hours::Closed
        }
    }
}

impl ConfigKind for Schedule {
    const KIND: &'static str = "schedules";
    const SINGULAR: &'static str = "schedule";
    const KEY_FIELD: &'static str = "name";

    fn key(&self) -> &str {
        &self.name
    }

    fn validate(&self, p: &mut Problems) {
        p.name("name", &self.name);
        if self.time_zone.parse::<chrono_tz::Tz>().is_err() {
            p.push("time_zone", "must be an IANA time zone such as America/New_York");
        }
        p.field("weekly", |p| {
            for (i, h) in self.weekly.iter().enumerate() {
                p.index(i, |p| {
                    if h.days.is_empty() {
                        p.push("days", "must list at least one day");
                    }
                    let open = parse_hhmm(&h.open);
                    let close = parse_hhmm(&h.close);
                    if open.is_none() {
                        p.push("open", "must be a time HH:MM");
                    }
                    if close.is_none() {
                        p.push("close", "must be a time HH:MM");
                    }
                    if let (Some(o), Some(c)) = (open, close) {
                        if c <= o {
                            p.push("close", "must be after open");
                        }
                    }
                });
            }
        });
        p.field("holidays", |p| {
            for (i, h) in self.holidays.iter().enumerate() {
                if NaiveDate::parse_from_str(&h.date, "%Y-%m-%d").is_err() || h.date.len() != 10 {
                    p.index(i, |p| p.push("date", "must be a date YYYY-MM-DD"));
                }
            }
        });
        check_target(p, "open_target", &self.open_target);
        check_target(p, "closed_target", &self.closed_target);
        check_opt_target(p, "holiday_target", &self.holiday_target);
        for (field, t) in [("open_target", &self.open_target), ("closed_target", &self.closed_target)] {
            if matches!(t, Target::Schedule { name } if *name == self.name) {
                p.push(field, "must not be the schedule itself");
            }
        }
    }

    fn references(&self) -> Vec<Reference> {
        let mut out = Vec::new();
        target_refs(&mut out, "open_target", &Some(self.open_target.clone()));
        target_refs(&mut out, "closed_target", &Some(self.closed_target.clone()));
        target_refs(&mut out, "holiday_target", &self.holiday_target);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> Schedule {
        Schedule {
            name: "hours".into(),
            time_zone: "America/New_York".into(),
            weekly: vec![OpenHours {
                days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
                open: "09:00".into(),
                close: "17:00".into(),
            }],
            holidays: vec![Holiday { date: "2026-12-25".into(), name: "Christmas".into() }],
            open_target: Target::Queue { name: "sales".into() },
            closed_target: Target::VoicemailBox { name: "after-hours".into() },
            holiday_target: None,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn open_and_closed_follow_local_time() {
        let s = schedule();
        // Wednesday 2026-11-25 10:00 in New York is 15:00 UTC.
        assert_eq!(s.target_at(at("2026-11-25T15:00:00Z")), &s.open_target);
        // 08:59 local.
        assert_eq!(s.target_at(at("2026-11-25T13:59:00Z")), &s.closed_target);
        // 17:00 local is closed (close is exclusive).
        assert_eq!(s.target_at(at("2026-11-25T22:00:00Z")), &s.closed_target);
        // Saturday.
        assert_eq!(s.target_at(at("2026-11-28T15:00:00Z")), &s.closed_target);
        // Christmas (a Friday) at 10:00 local.
        assert_eq!(s.target_at(at("2026-12-25T15:00:00Z")), &s.closed_target);
    }

    #[test]
    fn the_next_change_is_the_next_opening_closing_or_holiday() {
        let s = schedule();
        // Wednesday 10:00 local: closes at 17:00 local (22:00 UTC).
        let (when, hours) = s.next_change(at("2026-11-25T15:00:30Z")).unwrap();
        assert_eq!((when, hours), (at("2026-11-25T22:00:00Z"), Hours::Closed));
        // Saturday: opens on Monday at 09:00 local.
        assert_eq!(s.next_change(at("2026-11-28T15:00:00Z")).unwrap().0, at("2026-11-30T14:00:00Z"));
        // Thursday 24 December in the evening: Christmas comes at midnight.
        let (when, hours) = s.next_change(at("2026-12-24T23:30:00Z")).unwrap();
        assert_eq!((when, hours), (at("2026-12-25T05:00:00Z"), Hours::Holiday));
        assert_eq!(s.target_for(hours), &s.closed_target);
        assert_eq!(s.local_time(at("2026-11-25T15:00:00Z")).unwrap(), "Wed 25 Nov 10:00 EST");
        // Never open: no change to announce.
        let mut never = schedule();
        never.weekly.clear();
        assert_eq!(never.next_change(at("2026-11-25T15:00:00Z")), None);
    }

    #[test]
    fn bad_times_are_named() {
        let mut s = schedule();
        s.weekly[0].close = "08:00".into();
        s.time_zone = "Mars/Olympus".into();
        s.holidays[0].date = "2026-13-01".into();
        let mut p = Problems::new();
        s.validate(&mut p);
        let msgs: Vec<String> = p.into_vec().iter().map(|p| p.to_string()).collect();
        assert!(msgs.contains(&"weekly[0].close: must be after open".to_string()), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.starts_with("time_zone:")));
        assert!(msgs.contains(&"holidays[0].date: must be a date YYYY-MM-DD".to_string()));
    }
}
