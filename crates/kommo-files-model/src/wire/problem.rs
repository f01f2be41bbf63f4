use serde::{Deserialize, Serialize};

/// A problem body (`application/problem+json` on the account host; the emulator and, as far as is
/// known, the drive host use the same keys).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Problem {
    /// Short summary, e.g. `Bad Request`.
    #[serde(default)]
    pub title: Option<String>,
    /// A URI naming the kind of problem.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// HTTP status repeated in the body.
    #[serde(default)]
    pub status: Option<u16>,
    /// Human explanation.
    #[serde(default)]
    pub detail: Option<String>,
    /// Per-item validation failures.
    #[serde(
        default,
        rename = "validation-errors",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub validation_errors: Vec<ValidationError>,
}

/// Validation failures of one request item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ValidationError {
    /// The item's `request_id`.
    #[serde(default)]
    pub request_id: Option<String>,
    /// What was wrong.
    #[serde(default)]
    pub errors: Vec<ValidationErrorItem>,
}

/// One validation failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ValidationErrorItem {
    /// Machine code, e.g. `NotSupportedChoice`.
    #[serde(default)]
    pub code: Option<String>,
    /// JSON path of the bad value.
    #[serde(default)]
    pub path: Option<String>,
    /// Human explanation.
    #[serde(default)]
    pub detail: Option<String>,
}
