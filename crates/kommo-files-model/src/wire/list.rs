use serde::{Deserialize, Serialize};

use super::embedded::embedded_list;
use super::{FileObject, FileVersion, Link};

/// `_links` of a list page.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PageLinks {
    /// This page.
    #[serde(default, rename = "self", skip_serializing_if = "Option::is_none")]
    pub self_: Option<Link>,
    /// The next page, present while more pages exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Link>,
    /// The previous page (not documented, accepted when sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<Link>,
}

/// One page of `GET /v1.0/files`; an empty page stands for the 204 answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FilePage {
    /// Items on this page, as the server counts them.
    #[serde(default, rename = "_count")]
    pub count: Option<u64>,
    /// The files.
    #[serde(default, rename = "_embedded", with = "embedded_files")]
    pub files: Vec<FileObject>,
    /// Navigation links.
    #[serde(default, rename = "_links")]
    pub links: PageLinks,
}

impl FilePage {
    /// The URL of the next page, if any.
    pub fn next_url(&self) -> Option<&str> {
        self.links.next.as_ref().map(|l| l.href.as_str())
    }
}

/// The answer to `POST /v1.0/files/restore`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RestoredFiles {
    /// Number of restored files.
    #[serde(default, rename = "_count")]
    pub count: Option<u64>,
    /// The restored files.
    #[serde(default, rename = "_embedded", with = "embedded_files")]
    pub files: Vec<FileObject>,
}

/// The answer to `GET /v1.0/files/{uuid}/versions`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VersionList {
    /// Number of versions.
    #[serde(default, rename = "_count")]
    pub count: Option<u64>,
    /// The versions, newest first as the server sends them.
    #[serde(default, rename = "_embedded", with = "embedded_versions")]
    pub versions: Vec<FileVersion>,
}

embedded_list!(embedded_files, FileObject, files);
embedded_list!(embedded_versions, FileVersion, versions);
