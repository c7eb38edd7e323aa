//! Timestamps: RFC 3339 in UTC, whole seconds, and human-readable durations.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, UTC, to the second.
///
/// On the wire it is always written `YYYY-MM-DDTHH:MM:SSZ`; parsing accepts
/// RFC 3339 with a `Z` suffix only, so every signed time is unambiguous UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The current time of the machine's clock, truncated to the second.
    pub fn now() -> Self {
        Self::from_unix(Utc::now().timestamp()).expect("the system clock is within chrono's range")
    }

    /// The time `secs` seconds after the Unix epoch, if representable.
    pub fn from_unix(secs: i64) -> Option<Self> {
        DateTime::from_timestamp(secs, 0).map(Timestamp)
    }

    /// Seconds since the Unix epoch.
    pub fn unix(self) -> i64 {
        self.0.timestamp()
    }

    /// The underlying chrono value.
    pub fn as_datetime(self) -> DateTime<Utc> {
        self.0
    }

    /// This time plus `days` whole days, saturating at the end of time.
    pub fn plus_days(self, days: u32) -> Self {
        self.plus(Duration::days(i64::from(days)))
    }

    /// This time plus a duration, saturating at chrono's range.
    pub fn plus(self, d: Duration) -> Self {
        Timestamp(self.0.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC))
    }

    /// This time plus `months` calendar months (clamped to the month's end).
    pub fn plus_months(self, months: u32) -> Option<Self> {
        self.0.checked_add_months(chrono::Months::new(months)).map(Timestamp)
    }

    /// `self - earlier`, as a signed duration.
    pub fn since(self, earlier: Timestamp) -> Duration {
        self.0.signed_duration_since(earlier.0)
    }

    /// Parses RFC 3339 with a `Z` suffix, or a bare date `YYYY-MM-DD`
    /// (meaning midnight UTC at its start).
    pub fn parse(s: &str) -> Result<Self, TimestampError> {
        let s = s.trim();
        let refused = || TimestampError { text: s.to_owned(), dates: true };
        if s.len() == 10 {
            let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| refused())?;
            let dt = date.and_hms_opt(0, 0, 0).ok_or_else(refused)?;
            return Ok(Timestamp(dt.and_utc()));
        }
        Self::parse_wire(s).map_err(|_| refused())
    }

    /// Parses the wire form only: RFC 3339 ending in `Z`, whole seconds.
    pub fn parse_wire(s: &str) -> Result<Self, TimestampError> {
        let refused = || TimestampError { text: s.to_owned(), dates: false };
        if !s.ends_with('Z') {
            return Err(refused());
        }
        let dt = DateTime::parse_from_rfc3339(s).map_err(|_| refused())?;
        if dt.timestamp_subsec_nanos() != 0 {
            return Err(refused());
        }
        Ok(Timestamp(dt.with_timezone(&Utc)))
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(dt: DateTime<Utc>) -> Self {
        Timestamp::from_unix(dt.timestamp()).unwrap_or(Timestamp(dt))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use chrono::{Datelike, Timelike};
        let (d, year) = (self.0, self.0.year());
        // Every time a license carries has a four-digit year: written by hand,
        // without the allocation chrono's formatter makes (a batch writes
        // four of them per license, twice). Others as chrono writes them.
        let Ok(year @ 0..=9999) = u32::try_from(year) else {
            return f.write_str(&d.to_rfc3339_opts(SecondsFormat::Secs, true));
        };
        let mut buf = *b"0000-00-00T00:00:00Z";
        let mut put = |at: usize, width: usize, mut v: u32| {
            for i in (at..at + width).rev() {
                buf[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, d.month());
        put(8, 2, d.day());
        put(11, 2, d.hour());
        put(14, 2, d.minute());
        put(17, 2, d.second());
        f.write_str(std::str::from_utf8(&buf).expect("ASCII digits"))
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Parses the text where it lies, without copying it first.
        struct Wire;
        impl serde::de::Visitor<'_> for Wire {
            type Value = Timestamp;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a UTC time such as 2026-11-23T08:00:00Z")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Timestamp, E> {
                Timestamp::parse_wire(s).map_err(E::custom)
            }
        }
        d.deserialize_str(Wire)
    }
}

/// A time that is not RFC 3339 UTC (nor, where dates are read, a date).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a UTC time: write it as 2026-11-23T08:00:00Z{}", if *dates { " or as a date, 2026-11-23" } else { "" })]
pub struct TimestampError {
    text: String,
    dates: bool,
}

/// For the optional times of what people write (orders, API bodies): a
/// UTC time or a date, as [`Timestamp::parse`] reads them, with
/// `#[serde(default, deserialize_with = "license_common::time::lenient")]`.
/// Signed payloads keep the strict wire form.
pub fn lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    let text: Option<std::borrow::Cow<'de, str>> = Option::deserialize(d)?;
    text.map(|t| Timestamp::parse(&t).map_err(serde::de::Error::custom)).transpose()
}

/// Formats a duration for people: `41 days 3 hours`, `5 hours 2 minutes`,
/// `40 seconds`. Negative durations are formatted by their magnitude.
pub fn human_duration(d: Duration) -> String {
    let secs = d.num_seconds().unsigned_abs();
    let (days, hours, minutes) = (secs / 86_400, (secs % 86_400) / 3_600, (secs % 3_600) / 60);
    let unit = |n: u64, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    if days > 0 {
        if hours > 0 { format!("{} {}", unit(days, "day"), unit(hours, "hour")) } else { unit(days, "day") }
    } else if hours > 0 {
        format!("{} {}", unit(hours, "hour"), unit(minutes, "minute"))
    } else if minutes > 0 {
        unit(minutes, "minute")
    } else {
        unit(secs, "second")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_writes_what_chrono_writes() {
        let chrono_form = |t: Timestamp| t.0.to_rfc3339_opts(SecondsFormat::Secs, true);
        let edges = [
            DateTime::<Utc>::MIN_UTC.timestamp(),
            -62_167_219_200 - 1, // 0000-01-01 minus a second: year -1
            -62_167_219_200,     // 0000-01-01T00:00:00Z
            -1,
            0,
            951_782_400, // 2000-02-29
            1_798_761_599,
            253_402_300_799, // 9999-12-31T23:59:59Z
            253_402_300_800, // 10000-01-01
            DateTime::<Utc>::MAX_UTC.timestamp(),
        ];
        let mut x: i64 = 0x9E37_79B9;
        let spread = (0..2000).map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (x >> 20) % 400_000_000_000
        });
        for secs in edges.into_iter().chain(spread) {
            let t = Timestamp::from_unix(secs).unwrap();
            assert_eq!(t.to_string(), chrono_form(t), "at {secs}");
        }
        assert_eq!(Timestamp::from_unix(0).unwrap().to_string(), "1970-01-01T00:00:00Z");
        let saturated = Timestamp::from_unix(0).unwrap().plus(Duration::MAX);
        assert_eq!(saturated.to_string(), chrono_form(saturated));
    }

    #[test]
    fn wire_form_round_trips_and_is_strict() {
        let t = Timestamp::parse_wire("2026-11-23T08:00:00Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-23T08:00:00Z");
        assert!(Timestamp::parse_wire("2026-11-23T08:00:00+01:00").is_err());
        assert!(Timestamp::parse_wire("2026-11-23T08:00:00.5Z").is_err());
        assert!(Timestamp::parse_wire("2026-11-23").is_err());
        assert_eq!(Timestamp::parse("2026-11-23").unwrap().to_string(), "2026-11-23T00:00:00Z");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(Duration::seconds(40)), "40 seconds");
        assert_eq!(human_duration(Duration::minutes(61)), "1 hour 1 minute");
        assert_eq!(human_duration(Duration::days(14)), "14 days");
        assert_eq!(human_duration(Duration::hours(-49)), "2 days 1 hour");
    }
}
