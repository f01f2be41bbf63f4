//! `GET /v1.0/files` with every filter of docs/kommo-api.md#listing-files, page-based pagination and 204 when empty.

use http::StatusCode;
use serde_json::{json, Value};

use super::repr::file_json;
use crate::app::{App, Request};
use crate::auth::Scope;
use crate::http::{parse_limit, parse_page, ApiError, Reply, RouteResult, DEFAULT_LIMIT};
use crate::names::with_extension;
use crate::state::{Data, File};

/// The parsed filter.
#[derive(Debug, Default)]
struct Filter {
    uuids: Option<Vec<String>>,
    name: Option<String>,
    extensions: Vec<String>,
    term: Option<String>,
    source_id: Option<i64>,
    deleted: bool,
    size_unit: u64,
    size_from: Option<u64>,
    size_to: Option<u64>,
    date_on_updated: bool,
    date_from: Option<i64>,
    date_to: Option<i64>,
    created_by: Vec<i64>,
    updated_by: Vec<i64>,
    limit: usize,
    page: usize,
}

fn bad(param: &str, detail: &str) -> ApiError {
    ApiError::invalid("0", param, "InvalidValue", detail)
}

fn int<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, ApiError> {
    value
        .trim()
        .parse()
        .map_err(|_| bad(key, "an integer is expected"))
}

/// `filter[extensions][]`, `filter[extensions][0]` → `filter[extensions]`.
fn base_key(key: &str) -> &str {
    match (key.rfind('['), key.strip_suffix(']')) {
        (Some(open), Some(without_close)) if open > 0 => {
            let index = &without_close[open + 1..];
            if index.bytes().all(|b| b.is_ascii_digit()) {
                &key[..open]
            } else {
                key
            }
        }
        _ => key,
    }
}

fn parse(pairs: &[(String, String)], now: i64) -> Result<Filter, ApiError> {
    let mut f = Filter {
        size_unit: 1,
        limit: DEFAULT_LIMIT,
        page: 1,
        ..Filter::default()
    };
    let mut preset = None;
    for (key, value) in pairs {
        let list = || value.split(',').map(str::trim).filter(|s| !s.is_empty());
        match base_key(key) {
            "filter[uuid]" => f
                .uuids
                .get_or_insert_with(Vec::new)
                .extend(list().map(str::to_owned)),
            "filter[name]" => f.name = Some(value.to_lowercase()),
            "filter[extensions]" => f
                .extensions
                .extend(list().map(|e| e.trim_start_matches('.').to_lowercase())),
            "filter[term]" => f.term = Some(value.to_lowercase()),
            "filter[source_id]" => f.source_id = Some(int(key, value)?),
            "filter[deleted]" => f.deleted = !matches!(value.as_str(), "0" | "false"),
            "filter[size][unit]" => {
                f.size_unit = int(key, value)?;
                if f.size_unit == 0 {
                    return Err(bad(key, "unit must be positive"));
                }
            }
            "filter[size][from]" => f.size_from = Some(int(key, value)?),
            "filter[size][to]" => f.size_to = Some(int(key, value)?),
            "filter[date][type]" => match value.as_str() {
                "created_at" => f.date_on_updated = false,
                "updated_at" => f.date_on_updated = true,
                _ => return Err(bad(key, "created_at or updated_at expected")),
            },
            "filter[date][date_preset]" => preset = Some(value.clone()),
            "filter[date][from]" => f.date_from = Some(int(key, value)?),
            "filter[date][to]" => f.date_to = Some(int(key, value)?),
            "filter[created_by]" => {
                for id in list() {
                    f.created_by.push(int(key, id)?);
                }
            }
            "filter[updated_by]" => {
                for id in list() {
                    f.updated_by.push(int(key, id)?);
                }
            }
            "limit" => f.limit = parse_limit(value)?,
            "page" => f.page = parse_page(value)?,
            // `with`, `filter[is_filter]` and anything unknown are accepted and ignored.
            _ => {}
        }
    }
    if let Some(preset) = preset {
        let (from, to) = preset_range(&preset, now)
            .ok_or_else(|| bad("filter[date][date_preset]", "unknown date preset"))?;
        f.date_from = Some(f.date_from.map_or(from, |x| x.max(from)));
        f.date_to = Some(f.date_to.map_or(to, |x| x.min(to)));
    }
    Ok(f)
}

fn contains(haystack: &str, needle_lower: &str) -> bool {
    haystack.to_lowercase().contains(needle_lower)
}

fn matches(f: &Filter, file: &File, data: &Data) -> bool {
    let version = file.active();
    let full_name = with_extension(&version.name, &version.extension);
    let unit = f.size_unit;
    let timestamp = if f.date_on_updated {
        file.updated_at
    } else {
        file.created_at
    };
    f.deleted == file.is_trashed
        && f.uuids.as_ref().is_none_or(|u| u.contains(&file.uuid))
        && f.name.as_ref().is_none_or(|n| contains(&full_name, n))
        && (f.extensions.is_empty() || f.extensions.contains(&version.extension.to_lowercase()))
        && f.source_id.is_none_or(|s| file.source_id == Some(s))
        && f.size_from
            .is_none_or(|from| version.size >= from.saturating_mul(unit))
        && f.size_to
            .is_none_or(|to| version.size <= to.saturating_mul(unit))
        && f.date_from.is_none_or(|from| timestamp >= from)
        && f.date_to.is_none_or(|to| timestamp <= to)
        && (f.created_by.is_empty() || f.created_by.contains(&file.created_by.id))
        && (f.updated_by.is_empty() || f.updated_by.contains(&file.updated_by.id))
        && f.term.as_ref().is_none_or(|term| {
            contains(&full_name, term)
                || data.links.iter().any(|link| {
                    link.file_uuid == file.uuid
                        && data
                            .entity(link.entity_type, link.entity_id)
                            .is_some_and(|e| contains(&e.name, term))
                })
        })
}

/// `GET /v1.0/files` — newest first (highest id first).
pub(crate) fn list_files(app: &App, request: &Request) -> RouteResult {
    app.authorize(request, Scope::Files)?;
    let pairs = request.query_pairs();
    let filter = parse(&pairs, app.clock.now())?;
    let mut inner = app.lock();
    app.expire(&mut inner);
    let data = &inner.data;
    let mut found: Vec<&File> = data
        .files
        .values()
        .filter(|file| matches(&filter, file, data))
        .collect();
    found.sort_by_key(|f| std::cmp::Reverse(f.id));
    let start = (filter.page - 1).saturating_mul(filter.limit);
    let page: Vec<Value> = found
        .iter()
        .skip(start)
        .take(filter.limit)
        .map(|file| file_json(app, file))
        .collect();
    if page.is_empty() {
        return Ok(Reply::Empty(StatusCode::NO_CONTENT));
    }
    let mut links = json!({ "self": { "href": request.self_href(&app.drive_url) } });
    if start + page.len() < found.len() {
        links["next"] = json!({ "href": next_href(app, request, filter.page + 1) });
    }
    Ok(Reply::Json(
        StatusCode::OK,
        json!({ "_count": page.len(), "_embedded": { "files": page }, "_links": links }),
    ))
}

/// The request's own query with `page` replaced.
fn next_href(app: &App, request: &Request, page: usize) -> String {
    let mut parts: Vec<&str> = request
        .query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("page="))
        .collect();
    let page = format!("page={page}");
    parts.push(&page);
    format!("{}{}?{}", app.drive_url, request.path, parts.join("&"))
}

// ---- date presets (UTC calendar) ----

const DAY: i64 = 86_400;

/// Days since 1970-01-01 → (year, month 1-12, day 1-31). Howard Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// (year, month 1-12, day) → days since 1970-01-01; months outside 1-12 roll over years.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let (year, month) = (
        year + (month - 1).div_euclid(12),
        (month - 1).rem_euclid(12) + 1,
    );
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inclusive range of whole days `[first, last]` in Unix seconds.
fn days(first: i64, last: i64) -> (i64, i64) {
    (first * DAY, (last + 1) * DAY - 1)
}

/// Inclusive Unix range for a `date_preset`, relative to `now` (UTC).
fn preset_range(preset: &str, now: i64) -> Option<(i64, i64)> {
    let today = now.div_euclid(DAY);
    let (year, month, _) = civil_from_days(today);
    // 1970-01-01 was a Thursday; Monday-based weekday 0..6.
    let monday = today - (today + 3).rem_euclid(7);
    let month_range = |offset: i64| {
        days(
            days_from_civil(year, month + offset, 1),
            days_from_civil(year, month + offset + 1, 1) - 1,
        )
    };
    let quarter_start = month - (month - 1) % 3;
    let quarter_range = |offset: i64| {
        days(
            days_from_civil(year, quarter_start + 3 * offset, 1),
            days_from_civil(year, quarter_start + 3 * offset + 3, 1) - 1,
        )
    };
    Some(match preset {
        "day" => days(today, today),
        "yesterday" => days(today - 1, today - 1),
        "tomorrow" => days(today + 1, today + 1),
        "week" => days(monday, monday + 6),
        "previous_week" => days(monday - 7, monday - 1),
        "next_week" => days(monday + 7, monday + 13),
        "month" => month_range(0),
        "previous_month" => month_range(-1),
        "next_month" => month_range(1),
        "quarter" => quarter_range(0),
        "previous_quarter" => quarter_range(-1),
        "next_quarter" => quarter_range(1),
        "last_3_days" => days(today - 2, today),
        "next_3_days" => days(today, today + 2),
        "last_6_month" => days(days_from_civil(year, month - 6, 1), today),
        "year" => days(
            days_from_civil(year, 1, 1),
            days_from_civil(year + 1, 1, 1) - 1,
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips() {
        for d in [-1000, 0, 59, 365, 19_000, 20_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2024, 13, 1), days_from_civil(2025, 1, 1));
    }

    #[test]
    fn presets() {
        // 2024-02-15 12:00 UTC, a Thursday.
        let now = days_from_civil(2024, 2, 15) * DAY + 12 * 3600;
        let start = |y, m, d| days_from_civil(y, m, d) * DAY;
        assert_eq!(
            preset_range("day", now),
            Some((start(2024, 2, 15), start(2024, 2, 16) - 1))
        );
        assert_eq!(preset_range("week", now).unwrap().0, start(2024, 2, 12));
        assert_eq!(
            preset_range("month", now),
            Some((start(2024, 2, 1), start(2024, 3, 1) - 1))
        );
        assert_eq!(
            preset_range("previous_month", now).unwrap().0,
            start(2024, 1, 1)
        );
        assert_eq!(
            preset_range("quarter", now),
            Some((start(2024, 1, 1), start(2024, 4, 1) - 1))
        );
        assert_eq!(
            preset_range("previous_quarter", now).unwrap().0,
            start(2023, 10, 1)
        );
        assert_eq!(preset_range("year", now).unwrap().1, start(2025, 1, 1) - 1);
        assert_eq!(preset_range("bogus", now), None);
    }

    #[test]
    fn array_keys_are_normalised() {
        assert_eq!(base_key("filter[extensions][]"), "filter[extensions]");
        assert_eq!(base_key("filter[extensions][3]"), "filter[extensions]");
        assert_eq!(base_key("filter[size][unit]"), "filter[size][unit]");
        assert_eq!(base_key("filter[uuid]"), "filter[uuid]");
    }
}
