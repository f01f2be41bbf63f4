use serde::{Deserialize, Serialize};

use super::embedded::embedded_list;
use super::open_enum::open_enum;

open_enum! {
    /// CRM entities that files can be linked to and attachment notes can be added to.
    pub enum EntityType {
        /// Deals.
        Leads = "leads",
        /// People.
        Contacts = "contacts",
        /// Organisations.
        Companies = "companies",
        /// Customers (amoCRM RU lists them; Kommo's pages do not).
        Customers = "customers",
    }
}

/// `{ "file_uuid": "…" }`: the body item of attach and detach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileUuidRef {
    /// The file to link or unlink.
    pub file_uuid: String,
}

impl FileUuidRef {
    /// A reference to `file_uuid`.
    pub fn new(file_uuid: impl Into<String>) -> Self {
        Self {
            file_uuid: file_uuid.into(),
        }
    }
}

/// One link of `GET /api/v4/{entity}/{id}/files`; `id` is the **link** id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EntityFileLink {
    /// The linked file.
    pub file_uuid: String,
    /// The link's id (keyset cursor for `before_id`).
    pub id: i64,
}

/// A page of an entity's file links; empty for the 204 answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EntityFileLinks {
    /// The links, newest (highest id) first.
    #[serde(default, rename = "_embedded", with = "embedded_links")]
    pub files: Vec<EntityFileLink>,
}

impl EntityFileLinks {
    /// The `before_id` that asks for the page after this one.
    pub fn next_before_id(&self) -> Option<i64> {
        self.files.iter().map(|l| l.id).min()
    }
}

/// An entity linked to a file, with the legacy field names `GET /api/v4/files/{uuid}/links` uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LinkedEntity {
    /// Entity id.
    pub id: i64,
    /// `leads`, `contacts`, …
    #[serde(default)]
    pub entity_type: Option<EntityType>,
    /// Entity name.
    #[serde(default)]
    pub name: Option<String>,
    /// Creator's user id.
    #[serde(default)]
    pub created_by: Option<i64>,
    /// Responsible user.
    #[serde(default)]
    pub main_user_id: Option<i64>,
    /// Unix seconds (legacy name of `created_at`).
    #[serde(default)]
    pub date_create: Option<i64>,
    /// Unix seconds (legacy name of `updated_at`).
    #[serde(default)]
    pub date_update: Option<i64>,
    /// Last editor.
    #[serde(default)]
    pub updated_by: Option<i64>,
    /// Lead price.
    #[serde(default)]
    pub price: Option<serde_json::Number>,
    /// Lead pipeline.
    #[serde(default)]
    pub pipeline_id: Option<i64>,
    /// Lead status.
    #[serde(default)]
    pub status_id: Option<i64>,
    /// Nearest task time.
    #[serde(default)]
    pub closest_task_at: Option<i64>,
}

/// The answer to `GET /api/v4/files/{uuid}/links`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileEntities {
    /// The file.
    #[serde(default)]
    pub file_uuid: Option<String>,
    /// Entities the file is linked to.
    #[serde(default)]
    pub entities: Vec<LinkedEntity>,
}

embedded_list!(embedded_links, EntityFileLink, files);
