use serde::{Deserialize, Serialize};

/// The account object of `GET /api/v4/account?with=drive_url`, reduced to what we use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Account {
    /// Account id.
    #[serde(default)]
    pub id: Option<i64>,
    /// Account name.
    #[serde(default)]
    pub name: Option<String>,
    /// Subdomain of the account host.
    #[serde(default)]
    pub subdomain: Option<String>,
    /// The account's own drive host, e.g. `https://drive-c.kommo.com` (only sent when asked for).
    #[serde(default)]
    pub drive_url: Option<String>,
}
