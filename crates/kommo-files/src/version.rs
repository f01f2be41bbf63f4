//! [`VersionUuid`]: a version's UUID as its own type.

use std::fmt;

use kommo_files_model::wire::FileVersion;

/// The UUID of a file version. It is its own type so that a version and a file, both UUIDs,
/// cannot be passed in each other's place (see `Client::set_active_version`).
///
/// ```
/// use kommo_files::VersionUuid;
///
/// let version = VersionUuid::new("0ad5b4e1-8a31-4c4a-9d39-1c2b1f4a7a11");
/// assert_eq!(version.as_str(), "0ad5b4e1-8a31-4c4a-9d39-1c2b1f4a7a11");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VersionUuid(String);

impl VersionUuid {
    /// A version UUID from its text (as `kommo-files versions` prints it).
    pub fn new(uuid: impl Into<String>) -> Self {
        Self(uuid.into())
    }

    /// The UUID's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn into_string(self) -> String {
        self.0
    }
}

impl From<&FileVersion> for VersionUuid {
    fn from(version: &FileVersion) -> Self {
        Self(version.uuid.clone())
    }
}

impl From<FileVersion> for VersionUuid {
    fn from(version: FileVersion) -> Self {
        Self(version.uuid)
    }
}

impl fmt::Display for VersionUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
