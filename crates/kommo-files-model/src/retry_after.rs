//! `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3), parsed without a clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// When the server asked us to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RetryAfter {
    /// After this many seconds.
    Seconds(u64),
    /// At this Unix time (seconds).
    At(u64),
}

impl RetryAfter {
    /// Reads the header of `headers`, if present and well-formed.
    pub fn from_headers(headers: &http::HeaderMap) -> Option<Self> {
        Self::parse(headers.get(http::header::RETRY_AFTER)?.to_str().ok()?)
    }

    /// Parses `120` or `Wed, 21 Oct 2015 07:28:00 GMT`.
    ///
    /// ```
    /// use kommo_files_model::RetryAfter;
    /// assert_eq!(RetryAfter::parse("120"), Some(RetryAfter::Seconds(120)));
    /// assert_eq!(RetryAfter::parse("Wed, 21 Oct 2015 07:28:00 GMT"), Some(RetryAfter::At(1445412480)));
    /// assert_eq!(RetryAfter::parse("soon"), None);
    /// ```
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            return value.parse().ok().map(Self::Seconds);
        }
        parse_imf_fixdate(value).map(Self::At)
    }

    /// How long to wait from `now`; a date in the past means "now".
    pub fn delay_from(self, now: SystemTime) -> Duration {
        match self {
            Self::Seconds(s) => Duration::from_secs(s),
            // Not `UNIX_EPOCH + at`: that panics for a date past what `SystemTime` can hold.
            Self::At(unix) => Duration::from_secs(unix)
                .saturating_sub(now.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO)),
        }
    }
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` → Unix seconds.
fn parse_imf_fixdate(value: &str) -> Option<u64> {
    let (_weekday, rest) = value.split_once(", ")?;
    let mut fields = rest.split(' ');
    let day: u64 = fields.next()?.parse().ok()?;
    let month = fields.next()?;
    let year: u64 = fields.next()?.parse().ok()?;
    let time = fields.next()?;
    if fields.next()? != "GMT" || fields.next().is_some() {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? as u64 + 1;
    let mut hms = time.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    // An IMF-fixdate's year has four digits (RFC 9110 §5.6.7); a longer one would overflow.
    if hms.next().is_some()
        || !(1..=31).contains(&day)
        || !(1970..=9999).contains(&year)
        || h > 23
        || m > 59
        || s > 60
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(
            RetryAfter::parse("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(RetryAfter::At(784111777))
        );
        assert_eq!(
            RetryAfter::parse("Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(RetryAfter::At(0))
        );
        assert_eq!(RetryAfter::parse("Sun, 06 Nov 1994 08:49:37 UTC"), None);
        assert_eq!(RetryAfter::parse("Sun, 06 Foo 1994 08:49:37 GMT"), None);
        assert_eq!(RetryAfter::parse("-5"), None);
        assert_eq!(RetryAfter::parse("99999999999999999999999"), None);
        // Found by fuzzing: a year this long overflowed, and its date panicked in `delay_from`.
        assert_eq!(
            RetryAfter::parse("Thu, 01 Jan 424901974400 00:00:0 GMT"),
            None
        );
        assert_eq!(RetryAfter::parse("Thu, 01 Jan 10000 00:00:00 GMT"), None);
        assert_eq!(
            RetryAfter::parse("Fri, 31 Dec 9999 23:59:59 GMT"),
            Some(RetryAfter::At(253402300799))
        );
    }

    #[test]
    fn delay_is_never_negative() {
        let now = UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(RetryAfter::At(10).delay_from(now), Duration::ZERO);
        assert_eq!(
            RetryAfter::At(1010).delay_from(now),
            Duration::from_secs(10)
        );
        assert_eq!(
            RetryAfter::Seconds(3).delay_from(now),
            Duration::from_secs(3)
        );
        // Beyond what a `SystemTime` holds: a long wait, not a panic.
        assert_eq!(
            RetryAfter::At(u64::MAX).delay_from(now),
            Duration::from_secs(u64::MAX - 1000)
        );
    }
}
