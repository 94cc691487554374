//! Time and duration strings exactly as nats-server's monitoring endpoints
//! print them: Go's `time.RFC3339Nano` in UTC, nats-server's `myUptime`,
//! and Go's `time.Duration.String` for connection round-trip times.

use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Go's `t.UTC().Format(time.RFC3339Nano)`: `2026-11-25T16:16:39.91860382Z`.
///
/// The fraction has 1–9 digits with trailing zeros trimmed and is omitted
/// when the time is a whole second. Times before the Unix epoch are clamped
/// to the epoch.
pub fn rfc3339_nano(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    push_fraction(&mut out, u64::from(since.subsec_nanos()), 9);
    out.push('Z');
    out
}

/// nats-server's `myUptime`: whole seconds as `{y}y{d}d{h}h{m}m{s}s`,
/// starting at the largest non-zero unit (`0s`, `59s`, `1m0s`, `1h0m0s`,
/// `1d0h0m5s`, `1y0d0h0m0s`); years are 365 days and nothing is padded.
pub fn uptime(d: Duration) -> String {
    let secs = d.as_secs();
    let (mins, hours, days) = (secs / 60, secs / 3600, secs / 86_400);
    let years = days / 365;
    if years > 0 {
        format!(
            "{years}y{}d{}h{}m{}s",
            days % 365,
            hours % 24,
            mins % 60,
            secs % 60
        )
    } else if days > 0 {
        format!("{days}d{}h{}m{}s", hours % 24, mins % 60, secs % 60)
    } else if hours > 0 {
        format!("{hours}h{}m{}s", mins % 60, secs % 60)
    } else if mins > 0 {
        format!("{mins}m{}s", secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// A connection's RTT as `/connz` prints it: nats-server truncates a value
/// strictly between 1µs and 1ms to whole microseconds (`481µs`), then
/// formats with Go's `time.Duration.String` (`1.234567ms`, `2.000001234s`,
/// `999ns`, `0s`, `1m1s`, `26h0m0s`). `µ` is U+00B5.
pub fn rtt(d: Duration) -> String {
    let mut nanos = d.as_nanos();
    if nanos > 1_000 && nanos < 1_000_000 {
        nanos -= nanos % 1_000;
    }
    crate::gofmt::duration(Duration::from_nanos(
        u64::try_from(nanos).unwrap_or(u64::MAX),
    ))
}

/// Pushes `.` and the `digits`-wide zero-padded `frac` with trailing zeros
/// trimmed; pushes nothing when `frac` is zero.
fn push_fraction(out: &mut String, mut frac: u64, mut digits: u32) {
    if frac == 0 {
        return;
    }
    while frac.is_multiple_of(10) {
        frac /= 10;
        digits -= 1;
    }
    let width = digits as usize;
    write!(out, ".{frac:0width$}").expect("write to String");
}

/// Howard Hinnant's `civil_from_days`: (year, month, day) of the proleptic
/// Gregorian calendar for a count of days since 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01 so that leap days end each 400-year era.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097; // day of era, [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365], from March 1
    let mp = (5 * doy + 2) / 153; // month from March, [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = era * 400 + yoe + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    /// Days since the epoch by plain counting, to check `civil_from_days`.
    fn days_before(year: u64, month: u64, day: u64) -> u64 {
        let leap =
            |y: u64| y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400));
        let mut days: u64 = (1970..year).map(|y| 365 + u64::from(leap(y))).sum();
        let lengths = [
            31,
            28 + u64::from(leap(year)),
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        days += lengths[..(month - 1) as usize].iter().sum::<u64>();
        days + day - 1
    }

    #[test]
    fn rfc3339_nano_dates() {
        let cases: &[(u64, u32, &str)] = &[
            (0, 0, "1970-01-01T00:00:00Z"),
            (86_399, 0, "1970-01-01T23:59:59Z"),
            (86_400, 0, "1970-01-02T00:00:00Z"),
            (951_782_400, 0, "2000-02-29T00:00:00Z"),
            (1_709_164_800, 0, "2024-02-29T00:00:00Z"),
            (1_709_251_199, 0, "2024-02-29T23:59:59Z"),
            (1_709_251_200, 0, "2024-03-01T00:00:00Z"),
            (1_704_067_199, 999_999_999, "2023-12-31T23:59:59.999999999Z"),
            (1_704_067_200, 0, "2024-01-01T00:00:00Z"),
            (1_735_689_599, 0, "2024-12-31T23:59:59Z"),
            (4_107_542_400, 0, "2100-03-01T00:00:00Z"),
            (4_107_542_399, 0, "2100-02-28T23:59:59Z"),
            (1_795_623_399, 918_603_820, "2026-11-25T16:16:39.91860382Z"),
            (1_700_000_000, 1, "2023-11-14T22:13:20.000000001Z"),
            (1_700_000_000, 500_000_000, "2023-11-14T22:13:20.5Z"),
            (1_700_000_000, 120_000, "2023-11-14T22:13:20.00012Z"),
            (1_700_000_000, 10, "2023-11-14T22:13:20.00000001Z"),
            (1_700_000_000, 123_456_789, "2023-11-14T22:13:20.123456789Z"),
            (253_402_300_799, 0, "9999-12-31T23:59:59Z"),
        ];
        for &(secs, nanos, expected) in cases {
            assert_eq!(rfc3339_nano(at(secs, nanos)), expected, "{secs}.{nanos}");
        }
    }

    #[test]
    fn rfc3339_nano_clamps_before_epoch() {
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(rfc3339_nano(before), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn civil_from_days_matches_counting() {
        // Every month start and month end from 1970 through 2429 (covers the
        // 2000 and 2400 leap centuries and the 2100, 2200, 2300 non-leap ones).
        for year in 1970..2430 {
            for month in 1..=12 {
                let first = days_before(year, month, 1);
                assert_eq!(civil_from_days(first), (year, month, 1));
                if first > 0 {
                    let (y, m, d) = civil_from_days(first - 1);
                    assert_eq!(days_before(y, m, d), first - 1);
                    assert!((28..=31).contains(&d), "{y}-{m}-{d}");
                }
            }
        }
    }

    #[test]
    fn uptime_boundaries() {
        let day = 86_400;
        let cases: &[(u64, &str)] = &[
            (0, "0s"),
            (1, "1s"),
            (59, "59s"),
            (60, "1m0s"),
            (61, "1m1s"),
            (3_599, "59m59s"),
            (3_600, "1h0m0s"),
            (86_399, "23h59m59s"),
            (day, "1d0h0m0s"),
            (day + 5, "1d0h0m5s"),
            (364 * day + 86_399, "364d23h59m59s"),
            (365 * day, "1y0d0h0m0s"),
            (2 * 365 * day + 35 * day + 5 * 3_600 + 7, "2y35d5h0m7s"),
        ];
        for &(secs, expected) in cases {
            assert_eq!(uptime(Duration::from_secs(secs)), expected, "{secs}");
        }
        assert_eq!(uptime(Duration::from_millis(59_999)), "59s");
    }

    #[test]
    fn rtt_strings() {
        let ns = Duration::from_nanos;
        let cases: &[(Duration, &str)] = &[
            (ns(0), "0s"),
            (ns(1), "1ns"),
            (ns(999), "999ns"),
            (ns(1_000), "1µs"),
            (ns(1_001), "1µs"),
            (ns(1_999), "1µs"),
            (ns(481_234), "481µs"),
            (ns(999_999), "999µs"),
            (ns(1_000_000), "1ms"),
            (ns(1_000_001), "1.000001ms"),
            (ns(1_500_000), "1.5ms"),
            (ns(1_234_567), "1.234567ms"),
            (ns(12_345_678), "12.345678ms"),
            (ns(999_999_999), "999.999999ms"),
            (ns(1_000_000_000), "1s"),
            (ns(2_500_000_000), "2.5s"),
            (ns(2_000_001_234), "2.000001234s"),
            (ns(59_999_999_999), "59.999999999s"),
            (ns(60_000_000_000), "1m0s"),
            (ns(61_000_000_000), "1m1s"),
            (ns(3_599_500_000_000), "59m59.5s"),
            (ns(3_600_000_000_001), "1h0m0.000000001s"),
            (ns(3_660_000_000_000), "1h1m0s"),
            (Duration::from_secs(26 * 3_600), "26h0m0s"),
            (Duration::from_secs(1_000_000 * 3_600), "1000000h0m0s"),
        ];
        for &(d, expected) in cases {
            assert_eq!(rtt(d), expected, "{d:?}");
        }
    }
}
