//! Values typed on the command line: `leads:123`, `5MB`, `2026-11-25`. Each parses with
//! `FromStr`, so clap reports a bad one as a usage error naming the flag.

use std::fmt;
use std::str::FromStr;

use kommo_files::model::wire::EntityType;

use crate::dates;

/// A CRM entity: `leads:123`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityRef {
    pub kind: EntityType,
    pub id: i64,
}

impl FromStr for EntityRef {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (kind, id) = text
            .split_once(':')
            .ok_or_else(|| format!("expected ENTITY:ID such as leads:123, got {text:?}"))?;
        let kind = match kind.to_ascii_lowercase().as_str() {
            "lead" | "leads" => EntityType::Leads,
            "contact" | "contacts" => EntityType::Contacts,
            "company" | "companies" => EntityType::Companies,
            "customer" | "customers" => EntityType::Customers,
            other => {
                return Err(format!(
                    "unknown entity {other:?}: use leads, contacts, companies or customers"
                ))
            }
        };
        let id = id
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| format!("the entity id must be a positive number, got {id:?}"))?;
        Ok(Self { kind, id })
    }
}

impl fmt::Display for EntityRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.id)
    }
}

/// A byte count: `1500`, `10k`, `5MB` (decimal), `1GiB` (binary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let invalid = || format!("expected a size such as 1500, 10k, 5MB or 1GiB, got {text:?}");
        let trimmed = text.trim();
        let split = trimmed
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(split);
        let number: f64 = number.parse().map_err(|_| invalid())?;
        let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" => 1_000,
            "m" | "mb" => 1_000_000,
            "g" | "gb" => 1_000_000_000,
            "kib" => 1 << 10,
            "mib" => 1 << 20,
            "gib" => 1 << 30,
            _ => return Err(invalid()),
        };
        let bytes = number * multiplier as f64;
        if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
            return Err(invalid());
        }
        Ok(Self(bytes.round() as u64))
    }
}

/// A day (`2026-11-25`, UTC) or a Unix time in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Day {
    Date { days_since_epoch: i64 },
    Unix(i64),
}

impl Day {
    /// The first second it covers.
    pub fn start(self) -> i64 {
        match self {
            Self::Date { days_since_epoch } => days_since_epoch * 86_400,
            Self::Unix(seconds) => seconds,
        }
    }

    /// The last second it covers.
    pub fn end(self) -> i64 {
        match self {
            Self::Date { days_since_epoch } => days_since_epoch * 86_400 + 86_399,
            Self::Unix(seconds) => seconds,
        }
    }
}

impl FromStr for Day {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if let Ok(seconds) = text.parse::<i64>() {
            return Ok(Self::Unix(seconds));
        }
        dates::parse_ymd(text)
            .map(|days_since_epoch| Self::Date { days_since_epoch })
            .ok_or_else(|| format!("expected YYYY-MM-DD or Unix seconds, got {text:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_parse_in_both_numbers() {
        let lead: EntityRef = "leads:123".parse().unwrap();
        assert_eq!((lead.kind, lead.id), (EntityType::Leads, 123));
        assert_eq!(
            "Company:9".parse::<EntityRef>().unwrap().to_string(),
            "companies:9"
        );
        assert!("deals:1".parse::<EntityRef>().is_err());
        assert!("leads:-1".parse::<EntityRef>().is_err());
        assert!("leads".parse::<EntityRef>().is_err());
    }

    #[test]
    fn sizes_parse_decimal_and_binary_units() {
        let parse = |s: &str| s.parse::<ByteSize>().map(|b| b.0);
        assert_eq!(parse("1500"), Ok(1500));
        assert_eq!(parse("10k"), Ok(10_000));
        assert_eq!(parse("1.5MB"), Ok(1_500_000));
        assert_eq!(parse("1GiB"), Ok(1 << 30));
        assert_eq!(parse("3 MiB"), Ok(3 << 20));
        assert!(parse("five").is_err());
        assert!(parse("5XB").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn days_cover_whole_utc_days() {
        let day: Day = "2026-11-25".parse().unwrap();
        assert_eq!(day.start(), 1_795_564_800);
        assert_eq!(day.end(), 1_795_564_800 + 86_399);
        assert_eq!("1700000000".parse::<Day>().unwrap().start(), 1_700_000_000);
        assert!("2026-13-01".parse::<Day>().is_err());
        assert!("yesterday".parse::<Day>().is_err());
    }
}
