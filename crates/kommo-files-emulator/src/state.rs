//! The emulated account's data: files and their versions, CRM entities, links, notes and custom
//! field values. [`Data`] is what survives a restart; sessions live only in memory.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use crate::storage::UploadSink;

/// Who did something: `{ "id": 581651, "type": "internal" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Author {
    pub(crate) id: i64,
    #[serde(rename = "type")]
    pub(crate) kind: String,
}

impl Author {
    pub(crate) fn internal(id: u64) -> Self {
        Author {
            id: i64::try_from(id).unwrap_or(i64::MAX),
            kind: "internal".to_owned(),
        }
    }
}

/// One stored version of a file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Version {
    pub(crate) uuid: String,
    /// Name without the extension.
    pub(crate) name: String,
    pub(crate) extension: String,
    pub(crate) mime_type: String,
    pub(crate) size: u64,
    /// Lowercase hex SHA-256 of the stored bytes.
    pub(crate) sha256: String,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) created_by: Author,
    pub(crate) updated_by: Author,
    /// Preview dimensions when a preview was asked for and the image could be read.
    pub(crate) preview: Option<(u32, u32)>,
}

/// A file: stable `uuid` and numeric `id`, one or more versions, one of them active.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct File {
    pub(crate) id: u64,
    pub(crate) uuid: String,
    /// Oldest first.
    pub(crate) versions: Vec<Version>,
    pub(crate) active_version: String,
    pub(crate) source_id: Option<i64>,
    pub(crate) is_trashed: bool,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) created_by: Author,
    pub(crate) updated_by: Author,
    pub(crate) deleted_at: Option<i64>,
    pub(crate) deleted_by: Option<Author>,
}

impl File {
    pub(crate) fn active(&self) -> &Version {
        self.version(&self.active_version)
            .or_else(|| self.versions.last())
            .expect("a file always has a version")
    }

    pub(crate) fn active_mut(&mut self) -> &mut Version {
        let active = self.active_version.clone();
        let index = self
            .versions
            .iter()
            .position(|v| v.uuid == active)
            .unwrap_or(self.versions.len() - 1);
        &mut self.versions[index]
    }

    pub(crate) fn version(&self, uuid: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.uuid == uuid)
    }
}

/// The four CRM entity types files can be linked to (docs/kommo-api.md#entity-links).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum EntityType {
    Leads,
    Contacts,
    Companies,
    Customers,
}

impl EntityType {
    pub(crate) fn from_path(segment: &str) -> Option<Self> {
        match segment {
            "leads" => Some(EntityType::Leads),
            "contacts" => Some(EntityType::Contacts),
            "companies" => Some(EntityType::Companies),
            "customers" => Some(EntityType::Customers),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EntityType::Leads => "leads",
            EntityType::Contacts => "contacts",
            EntityType::Companies => "companies",
            EntityType::Customers => "customers",
        }
    }

    /// Id of the seeded `file`-type custom field (leads, contacts, companies: docs/kommo-api.md#file-custom-fields).
    pub(crate) fn file_field_id(self) -> Option<u64> {
        match self {
            EntityType::Leads => Some(FILE_FIELD_ID_LEADS),
            EntityType::Contacts => Some(FILE_FIELD_ID_LEADS + 2),
            EntityType::Companies => Some(FILE_FIELD_ID_LEADS + 4),
            EntityType::Customers => None,
        }
    }
}

/// Id of the seeded `file` custom field on leads.
pub const FILE_FIELD_ID_LEADS: u64 = 1_150_985;

/// A stored value of a `file` custom field (docs/kommo-api.md#file-custom-fields).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FileFieldValue {
    pub(crate) file_uuid: String,
    pub(crate) version_uuid: String,
    pub(crate) file_name: String,
    pub(crate) file_size: u64,
}

/// A lead, contact, company or customer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Entity {
    pub(crate) entity_type: EntityType,
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) price: i64,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) created_by: u64,
    pub(crate) responsible_user_id: u64,
    /// `file` custom field id → its values.
    pub(crate) file_fields: BTreeMap<u64, Vec<FileFieldValue>>,
}

/// A file attached to an entity; `id` is the link id the list endpoint pages on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Link {
    pub(crate) id: u64,
    pub(crate) entity_type: EntityType,
    pub(crate) entity_id: u64,
    pub(crate) file_uuid: String,
}

/// A note on an entity (attachment notes and plain `common` text notes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Note {
    pub(crate) id: u64,
    pub(crate) entity_type: EntityType,
    pub(crate) entity_id: u64,
    pub(crate) note_type: String,
    pub(crate) params: Value,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) created_by: u64,
    pub(crate) responsible_user_id: u64,
}

/// Everything persisted to `state.json` in the data directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Data {
    pub(crate) next_file_id: u64,
    pub(crate) next_session_id: u64,
    pub(crate) next_link_id: u64,
    pub(crate) next_note_id: u64,
    pub(crate) next_entity_id: u64,
    /// Keyed by file uuid.
    pub(crate) files: BTreeMap<String, File>,
    pub(crate) entities: Vec<Entity>,
    pub(crate) links: Vec<Link>,
    pub(crate) notes: Vec<Note>,
}

impl Data {
    /// A fresh account with a few seeded entities of every type.
    pub(crate) fn seeded(now: i64, user_id: u64) -> Self {
        let mut data = Data {
            next_file_id: 4_511_001,
            next_session_id: 26_136_001,
            next_link_id: 2_128_001,
            next_note_id: 76_787_001,
            next_entity_id: 20_001,
            files: BTreeMap::new(),
            entities: Vec::new(),
            links: Vec::new(),
            notes: Vec::new(),
        };
        let seeds = [
            (EntityType::Leads, [1001, 1002, 1003]),
            (EntityType::Contacts, [2001, 2002, 2003]),
            (EntityType::Companies, [3001, 3002, 3003]),
            (EntityType::Customers, [4001, 4002, 4003]),
        ];
        for (entity_type, ids) in seeds {
            for id in ids {
                data.entities.push(Entity {
                    entity_type,
                    id,
                    name: default_entity_name(entity_type, id),
                    price: 0,
                    created_at: now,
                    updated_at: now,
                    created_by: user_id,
                    responsible_user_id: user_id,
                    file_fields: BTreeMap::new(),
                });
            }
        }
        data
    }

    pub(crate) fn entity(&self, entity_type: EntityType, id: u64) -> Option<&Entity> {
        self.entities
            .iter()
            .find(|e| e.entity_type == entity_type && e.id == id)
    }

    pub(crate) fn entity_mut(&mut self, entity_type: EntityType, id: u64) -> Option<&mut Entity> {
        self.entities
            .iter_mut()
            .find(|e| e.entity_type == entity_type && e.id == id)
    }
}

/// `Lead #1001`, `Contact #2001`, ...
pub(crate) fn default_entity_name(entity_type: EntityType, id: u64) -> String {
    let label = match entity_type {
        EntityType::Leads => "Lead",
        EntityType::Contacts => "Contact",
        EntityType::Companies => "Company",
        EntityType::Customers => "Customer",
    };
    format!("{label} #{id}")
}

/// The answer given to the last accepted part, kept so a retry can be replayed.
#[derive(Debug, Clone)]
pub(crate) struct LastAnswer {
    pub(crate) part_num: u32,
    pub(crate) len: u64,
    pub(crate) status: u16,
    pub(crate) body: Value,
}

/// An upload session (docs/kommo-api.md#uploads). Not persisted: a restart forgets unfinished uploads.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) file_name: String,
    pub(crate) file_size: u64,
    pub(crate) content_type: Option<String>,
    /// Set when the session uploads a new version of this file.
    pub(crate) file_uuid: Option<String>,
    pub(crate) with_preview: bool,
    pub(crate) created_by: Author,
    pub(crate) expires_at: i64,
    pub(crate) received: u64,
    /// Part number the next accepted POST must carry.
    pub(crate) next_part: u32,
    pub(crate) completed: bool,
    pub(crate) last_answer: Option<LastAnswer>,
    pub(crate) sink: Option<UploadSink>,
    pub(crate) hasher: Sha256,
    /// First bytes of the upload, enough to read image dimensions for a preview.
    pub(crate) head: Vec<u8>,
}

/// Upload sessions by id.
pub(crate) type Sessions = HashMap<u64, Session>;
