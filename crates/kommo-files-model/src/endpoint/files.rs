use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};

use super::query::{encode, Query};
use super::{
    authorized, authorized_own, expect_empty, expect_json, is_empty_body, json_body, DriveHost,
};
use crate::base_url::origin_of;
use crate::wire::open_enum::open_enum;
use crate::wire::{FileObject, FilePage, RestoredFiles, VersionList};
use crate::{ApiError, BaseUrl, UrlError};

/// Size bounds of a list filter, in units of `unit` bytes (`filter[size][…]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SizeRange {
    /// Bytes per unit (1 by default; `1000000` for MB as in Kommo's example).
    pub unit: u64,
    /// Lower bound in units.
    pub from: Option<u64>,
    /// Upper bound in units.
    pub to: Option<u64>,
}

impl SizeRange {
    /// A range in units of `unit` bytes.
    pub fn new(unit: u64, from: Option<u64>, to: Option<u64>) -> Self {
        Self { unit, from, to }
    }
}

/// Which timestamp a date filter looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DateField {
    /// `created_at`.
    CreatedAt,
    /// `updated_at`.
    UpdatedAt,
}

impl DateField {
    fn as_str(self) -> &'static str {
        match self {
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
        }
    }
}

open_enum! {
    /// Named date ranges of `filter[date][date_preset]`.
    pub enum DatePreset {
        /// Today.
        Day = "day",
        /// Tomorrow.
        Tomorrow = "tomorrow",
        /// Yesterday.
        Yesterday = "yesterday",
        /// This week.
        Week = "week",
        /// Last week.
        PreviousWeek = "previous_week",
        /// Next week.
        NextWeek = "next_week",
        /// This month.
        Month = "month",
        /// Next month.
        NextMonth = "next_month",
        /// Last month.
        PreviousMonth = "previous_month",
        /// This quarter.
        Quarter = "quarter",
        /// Last quarter.
        PreviousQuarter = "previous_quarter",
        /// Next quarter.
        NextQuarter = "next_quarter",
        /// The last three days.
        Last3Days = "last_3_days",
        /// The next three days.
        Next3Days = "next_3_days",
        /// The last six months.
        Last6Month = "last_6_month",
        /// This year.
        Year = "year",
    }
}

/// A date range: a preset or Unix bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DateRange {
    /// A named range.
    Preset(DatePreset),
    /// Unix seconds, either bound optional.
    Between {
        /// Lower bound.
        from: Option<i64>,
        /// Upper bound.
        to: Option<i64>,
    },
}

/// `filter[date][…]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DateFilter {
    /// Which timestamp.
    pub field: DateField,
    /// Which range.
    pub range: DateRange,
}

impl DateFilter {
    /// A filter on `field` within `range`.
    pub fn new(field: DateField, range: DateRange) -> Self {
        Self { field, range }
    }
}

/// Filters and paging of `GET /v1.0/files`: every documented filter, and page-based paging.
///
/// ```
/// use kommo_files_model::endpoint::{FileQuery, SizeRange};
/// let query = FileQuery::new()
///     .extension("jpg")
///     .size(SizeRange::new(1_000_000, Some(1), Some(5)))
///     .limit(25);
/// assert_eq!(
///     query.to_query_string(),
///     "?filter%5Bextensions%5D%5B%5D=jpg&filter%5Bsize%5D%5Bunit%5D=1000000\
///      &filter%5Bsize%5D%5Bfrom%5D=1&filter%5Bsize%5D%5Bto%5D=5&limit=25"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileQuery {
    /// `filter[uuid]`, comma-joined.
    pub uuids: Vec<String>,
    /// `filter[name]`.
    pub name: Option<String>,
    /// `filter[extensions][]`, repeated.
    pub extensions: Vec<String>,
    /// `filter[term]`: substring of the file name or of a linked entity's name.
    pub term: Option<String>,
    /// `filter[source_id]`.
    pub source_id: Option<i64>,
    /// `filter[deleted]=1`: list trashed files.
    pub deleted: bool,
    /// `filter[size][…]`.
    pub size: Option<SizeRange>,
    /// `filter[date][…]`.
    pub date: Option<DateFilter>,
    /// `filter[created_by][]`: `-1` client, `0` robot, or a user id.
    pub created_by: Vec<i64>,
    /// `filter[updated_by][]`.
    pub updated_by: Vec<i64>,
    /// `with` (undocumented; the PHP SDK knows `deleted`, `unbilled`).
    pub with: Vec<String>,
    /// Page size.
    pub limit: Option<u32>,
    /// Page number, from 1.
    pub page: Option<u32>,
}

impl FileQuery {
    /// No filter: every file that is not trashed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a UUID.
    pub fn uuid(mut self, uuid: impl Into<String>) -> Self {
        self.uuids.push(uuid.into());
        self
    }

    /// Filters by name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds an extension (without the dot).
    pub fn extension(mut self, extension: impl Into<String>) -> Self {
        self.extensions.push(extension.into());
        self
    }

    /// Filters by a substring of the file's or a linked entity's name.
    pub fn term(mut self, term: impl Into<String>) -> Self {
        self.term = Some(term.into());
        self
    }

    /// Filters by source.
    pub fn source_id(mut self, source_id: i64) -> Self {
        self.source_id = Some(source_id);
        self
    }

    /// Lists trashed files instead.
    pub fn deleted(mut self, deleted: bool) -> Self {
        self.deleted = deleted;
        self
    }

    /// Filters by size.
    pub fn size(mut self, size: SizeRange) -> Self {
        self.size = Some(size);
        self
    }

    /// Filters by date.
    pub fn date(mut self, date: DateFilter) -> Self {
        self.date = Some(date);
        self
    }

    /// Adds a creator.
    pub fn created_by(mut self, id: i64) -> Self {
        self.created_by.push(id);
        self
    }

    /// Adds an editor.
    pub fn updated_by(mut self, id: i64) -> Self {
        self.updated_by.push(id);
        self
    }

    /// Page size.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Page number, from 1.
    pub fn page(mut self, page: u32) -> Self {
        self.page = Some(page);
        self
    }

    /// The encoded query string, `?…` (empty when there is nothing to send).
    pub fn to_query_string(&self) -> String {
        let mut q = Query::default();
        if !self.uuids.is_empty() {
            q.push("filter[uuid]", self.uuids.join(","));
        }
        q.push_opt("filter[name]", self.name.as_ref());
        for extension in &self.extensions {
            q.push("filter[extensions][]", extension);
        }
        q.push_opt("filter[term]", self.term.as_ref());
        q.push_opt("filter[source_id]", self.source_id);
        if self.deleted {
            q.push("filter[deleted]", 1);
        }
        if let Some(size) = &self.size {
            q.push("filter[size][unit]", size.unit);
            q.push_opt("filter[size][from]", size.from);
            q.push_opt("filter[size][to]", size.to);
        }
        if let Some(date) = &self.date {
            q.push("filter[date][type]", date.field.as_str());
            match &date.range {
                DateRange::Preset(preset) => {
                    q.push("filter[date][date_preset]", preset);
                }
                DateRange::Between { from, to } => {
                    q.push_opt("filter[date][from]", *from);
                    q.push_opt("filter[date][to]", *to);
                }
            }
        }
        for id in &self.created_by {
            q.push("filter[created_by][]", id);
        }
        for id in &self.updated_by {
            q.push("filter[updated_by][]", id);
        }
        if !self.with.is_empty() {
            q.push("with", self.with.join(","));
        }
        q.push_opt("limit", self.limit);
        q.push_opt("page", self.page);
        q.to_suffix()
    }
}

fn file_path(uuid: &str) -> String {
    format!("/v1.0/files/{}", encode(uuid))
}

/// `GET /v1.0/files` with filters (endpoint 4).
pub fn list_files_request(host: &DriveHost, query: &FileQuery) -> Request<Bytes> {
    let url = host
        .base
        .join(&format!("/v1.0/files{}", query.to_query_string()));
    authorized_own(Method::GET, &url, &host.token, None)
}

/// `GET {_links.next}`: the next page, refused when the link leaves the drive host.
pub fn next_page_request(host: &DriveHost, next_url: &str) -> Result<Request<Bytes>, UrlError> {
    authorized(Method::GET, host.base.check(next_url)?, &host.token, None)
}

/// Parses a page: 200 with files, 204 (nothing matches) as an empty page.
pub fn parse_file_page(response: &Response<Bytes>) -> Result<FilePage, ApiError> {
    if response.status() == StatusCode::NO_CONTENT
        || (response.status() == StatusCode::OK && is_empty_body(response))
    {
        return Ok(FilePage::default());
    }
    expect_json(response, &[StatusCode::OK])
}

/// `GET /v1.0/files/{uuid}` (endpoint 5).
pub fn get_file_request(host: &DriveHost, file_uuid: &str) -> Request<Bytes> {
    authorized_own(
        Method::GET,
        &host.base.join(&file_path(file_uuid)),
        &host.token,
        None,
    )
}

/// Parses a file: `None` for a missing file, which is 404 (amoCRM RU) or 204 (Kommo OpenAPI).
pub fn parse_get_file(response: &Response<Bytes>) -> Result<Option<FileObject>, ApiError> {
    match response.status() {
        StatusCode::NOT_FOUND | StatusCode::NO_CONTENT => Ok(None),
        _ => expect_json(response, &[StatusCode::OK]).map(Some),
    }
}

/// What `PATCH /v1.0/files/{uuid}` changes: a name **or** the active version, never both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FileEdit {
    /// `{ "name": … }`.
    Rename(String),
    /// `{ "version_uuid": … }`.
    SetVersion(String),
}

/// `PATCH /v1.0/files/{uuid}` (endpoint 6).
pub fn edit_file_request(host: &DriveHost, file_uuid: &str, edit: &FileEdit) -> Request<Bytes> {
    let body = match edit {
        FileEdit::Rename(name) => serde_json::json!({ "name": name }),
        FileEdit::SetVersion(version) => serde_json::json!({ "version_uuid": version }),
    };
    let url = host.base.join(&file_path(file_uuid));
    authorized_own(Method::PATCH, &url, &host.token, Some(json_body(&body)))
}

/// Parses the edited file (200).
pub fn parse_edit_file(response: &Response<Bytes>) -> Result<FileObject, ApiError> {
    expect_json(response, &[StatusCode::OK])
}

#[derive(Serialize)]
struct UuidRef<'a> {
    uuid: &'a str,
}

fn uuid_refs<'a>(uuids: &'a [impl AsRef<str>]) -> Vec<UuidRef<'a>> {
    uuids.iter().map(|u| UuidRef { uuid: u.as_ref() }).collect()
}

/// `DELETE /v1.0/files` with `[{uuid}]`: moves files to the trash (endpoint 7, "Deleting files").
pub fn delete_files_request(host: &DriveHost, uuids: &[impl AsRef<str>]) -> Request<Bytes> {
    let url = host.base.join("/v1.0/files");
    authorized_own(
        Method::DELETE,
        &url,
        &host.token,
        Some(json_body(&uuid_refs(uuids))),
    )
}

/// Parses a delete: 204 without body (amoCRM RU) or 200 `{}` (Kommo OpenAPI).
pub fn parse_delete_files(response: &Response<Bytes>) -> Result<(), ApiError> {
    expect_empty(response, &[StatusCode::NO_CONTENT, StatusCode::OK])
}

/// `POST /v1.0/files/restore` with `[{uuid}]` (endpoint 8).
pub fn restore_files_request(host: &DriveHost, uuids: &[impl AsRef<str>]) -> Request<Bytes> {
    let url = host.base.join("/v1.0/files/restore");
    authorized_own(
        Method::POST,
        &url,
        &host.token,
        Some(json_body(&uuid_refs(uuids))),
    )
}

/// Parses the restored files (200).
pub fn parse_restore_files(response: &Response<Bytes>) -> Result<RestoredFiles, ApiError> {
    expect_json(response, &[StatusCode::OK])
}

/// `GET /v1.0/files/{uuid}/versions` (endpoint 9).
pub fn versions_request(host: &DriveHost, file_uuid: &str) -> Request<Bytes> {
    let url = host
        .base
        .join(&format!("{}/versions", file_path(file_uuid)));
    authorized_own(Method::GET, &url, &host.token, None)
}

/// Parses the versions (200).
pub fn parse_versions(response: &Response<Bytes>) -> Result<VersionList, ApiError> {
    expect_json(response, &[StatusCode::OK])
}

/// `GET` of a download link. The token is attached only when the link is on the drive host, and
/// only https (or http to loopback) is accepted: a downgrade would expose the file's bytes.
pub fn download_request(host: &DriveHost, url: &str) -> Result<Request<Bytes>, UrlError> {
    let origin = origin_of(url).ok_or_else(|| UrlError::Invalid(url.to_owned()))?;
    BaseUrl::parse(origin)?;
    let mut request = authorized(Method::GET, url, &host.token, None)?;
    if !host.base.owns(url) {
        request.headers_mut().remove(http::header::AUTHORIZATION);
    }
    request
        .headers_mut()
        .insert(http::header::ACCEPT, http::HeaderValue::from_static("*/*"));
    Ok(request)
}

/// The request that follows a redirect (`Location`, absolute or path-relative) of `previous`,
/// under the rules of [`download_request`] (downloads answer 301 first).
pub fn redirect_request(
    host: &DriveHost,
    previous: &Request<Bytes>,
    location: &str,
) -> Result<Request<Bytes>, UrlError> {
    let target = if location.starts_with('/') && !location.starts_with("//") {
        let previous = previous.uri().to_string();
        let origin = origin_of(&previous).ok_or_else(|| UrlError::Invalid(previous.clone()))?;
        format!("{origin}{location}")
    } else {
        location.to_owned()
    };
    download_request(host, &target)
}
