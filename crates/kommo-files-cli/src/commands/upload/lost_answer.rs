//! After the answer to a file's last part was lost and its session is gone, the file was most
//! likely stored: finding it is better than failing, and far better than storing it twice.

use kommo_files::blocking::Client;
use kommo_files::model::endpoint::{DateField, DateFilter, DateRange, FileQuery};
use kommo_files::model::upload::UploadError;
use kommo_files::model::wire::FileObject;
use kommo_files::Error;

use super::sources::Source;
use crate::failure::Failure;

/// How far our clock and the server's may be apart when looking for a file by its age.
const CLOCK_SKEW_SECONDS: i64 = 120;

/// What a search after a lost last answer found.
#[derive(Debug)]
pub enum Stored {
    /// The one file it must have been.
    Found(Box<FileObject>),
    /// Nothing: the session ended without storing it.
    Not,
    /// Several candidates, or nothing to search with: the user decides.
    Unknown,
}

/// When `error` says the answer to the last part was lost, looks for the stored file: same
/// name and size, created since the session opened (for a new version, among the versions of
/// `version_of`).
pub fn find_stored(
    client: &Client,
    version_of: Option<&str>,
    error: &Error,
    source: &Source,
    name: &str,
) -> Result<Stored, Failure> {
    let Error::Upload {
        error: UploadError::FinalPartUnconfirmed { .. },
        checkpoint: Some(checkpoint),
    } = error
    else {
        return Ok(Stored::Unknown);
    };
    let since = checkpoint.session_opened_at as i64 - CLOCK_SKEW_SECONDS;
    let recent = |created_at: Option<i64>| created_at.is_some_and(|at| at >= since);
    let mut found: Vec<FileObject> = match version_of {
        Some(uuid) => {
            let versions = client.versions(uuid)?;
            let fresh = versions
                .iter()
                .filter(|v| v.size == source.size && recent(v.created_at))
                .count();
            match (fresh, client.get_file(uuid)?) {
                (1, Some(file)) => vec![file],
                (0, _) => Vec::new(),
                _ => return Ok(Stored::Unknown),
            }
        }
        None => {
            let query = FileQuery::new().name(name).date(DateFilter::new(
                DateField::CreatedAt,
                DateRange::Between {
                    from: Some(since),
                    to: None,
                },
            ));
            let mut found = Vec::new();
            for file in client.list(query) {
                let file = file?;
                if file.name_with_extension() == name
                    && file.size == source.size
                    && recent(file.created_at)
                {
                    found.push(file);
                }
            }
            found
        }
    };
    Ok(match found.len() {
        0 => Stored::Not,
        1 => Stored::Found(Box::new(found.remove(0))),
        _ => Stored::Unknown,
    })
}
