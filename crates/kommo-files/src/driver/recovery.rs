//! Exactly once after an ambiguous last part: the answer to it was lost (or unreadable) and
//! the session is gone, so the file may or may not be stored. A file is adopted only when it is
//! proven ours: created since the session opened, and its bytes hash to the source's SHA-256
//! (read back once: the case is rare and correctness is worth one download). Anything less
//! proven is reported, never adopted; no candidate at all means upload again.

use std::time::Duration;

use kommo_files_model::upload::recovery::{self, Verdict};
use kommo_files_model::upload::{Checkpoint, UploadMachine};
use kommo_files_model::wire::FileObject;

use super::sources::PartSource;
use super::{flavour, Client};
use crate::support::Sha256Sink;
use crate::Error;

/// How far the server's clock may be behind ours when it stamps the stored file.
const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// At most this many candidates are downloaded to be checked; more is reported as ambiguous.
const MAX_CHECKED: usize = 8;

/// At most this many pages of candidates are read: a server that pages for ever must not keep
/// the search going; what is left unread counts as unchecked (so nothing is uploaded again).
const MAX_PAGES: usize = 10;

#[flavour(AFIT)]
impl Client {
    /// `Ok(Some(file))`: exactly one file is proven to be this upload. `Ok(None)`: nothing
    /// of that name and size was stored since the session opened; upload again. `Err`: the
    /// evidence is not conclusive (or could not be gathered); the error says why and keeps
    /// `error`'s checkpoint.
    pub(super) async fn recover_final_part<S: PartSource>(
        &self,
        machine: &UploadMachine,
        source: &mut S,
        error: Error,
    ) -> Result<Option<FileObject>, Error> {
        let Some(checkpoint) = error
            .checkpoint()
            .cloned()
            .or_else(|| machine.checkpoint_with_prefix(String::new()))
        else {
            return Err(error);
        };
        let source_sha256 = match machine.source_sha256() {
            Some(hash) => Some(hash),
            None => source.sha256_of_prefix(machine.total()).await,
        };
        let Some(source_sha256) = source_sha256 else {
            return Err(Error::final_part_unproven(checkpoint, Vec::new(), None));
        };
        let found = match &checkpoint.session.file_uuid {
            Some(file_uuid) => {
                self.stored_version(&checkpoint, file_uuid, &source_sha256)
                    .await
            }
            None => self.stored_file(&checkpoint, &source_sha256).await,
        };
        let (verdict, candidates) = match found {
            Ok(found) => found,
            Err(cause) => {
                return Err(Error::final_part_unproven(
                    checkpoint,
                    Vec::new(),
                    Some(cause),
                ))
            }
        };
        match verdict {
            Verdict::Adopt(file_uuid) => match self.get_file(&file_uuid).await? {
                Some(file) => Ok(Some(file)),
                // Proven a moment ago, gone now (deleted meanwhile): not ours to decide.
                None => Err(Error::final_part_unproven(checkpoint, candidates, None)),
            },
            Verdict::UploadAgain => Ok(None),
            _ => Err(Error::final_part_unproven(checkpoint, candidates, None)),
        }
    }

    /// Among new files of the upload's name and size, the one whose bytes are the source's:
    /// the verdict on its UUID, and the UUIDs of every candidate.
    async fn stored_file(
        &self,
        checkpoint: &Checkpoint,
        source_sha256: &str,
    ) -> Result<(Verdict<String>, Vec<String>), Error> {
        let query = recovery::recovery_query(checkpoint, CLOCK_SKEW);
        let mut candidates = Vec::new();
        let mut page = self.list_page(&query).await?;
        let mut unread = 0;
        for read in 1.. {
            let fitting = page
                .files
                .iter()
                .filter(|file| recovery::is_candidate_file(file, checkpoint, CLOCK_SKEW));
            candidates.extend(fitting.cloned());
            if read == MAX_PAGES && page.next_url().is_some() {
                unread = 1;
                break;
            }
            match self.next_page(&page).await? {
                Some(next) => page = next,
                None => break,
            }
        }
        let names: Vec<String> = candidates.iter().map(|f| f.uuid.clone()).collect();
        let unchecked = candidates.len().saturating_sub(MAX_CHECKED) + unread;
        let mut proven = Vec::new();
        for file in candidates.into_iter().take(MAX_CHECKED) {
            if let Some(link) = file.download_url() {
                let hash = self.sha256_of_link(link, checkpoint.source.size).await?;
                if hash.as_deref() == Some(source_sha256) {
                    proven.push(file.uuid);
                }
            }
        }
        Ok((recovery::verdict(proven, unchecked), names))
    }

    /// Among the file's versions created since the session opened with the upload's size, the
    /// one whose bytes are the source's: the verdict on the file it belongs to, and the UUIDs
    /// of every candidate version.
    async fn stored_version(
        &self,
        checkpoint: &Checkpoint,
        file_uuid: &str,
        source_sha256: &str,
    ) -> Result<(Verdict<String>, Vec<String>), Error> {
        let versions = self.versions(file_uuid).await?;
        let candidates: Vec<_> = versions
            .into_iter()
            .filter(|version| recovery::is_candidate_version(version, checkpoint, CLOCK_SKEW))
            .collect();
        let names: Vec<String> = candidates.iter().map(|v| v.uuid.clone()).collect();
        let unchecked = candidates.len().saturating_sub(MAX_CHECKED);
        let mut proven = Vec::new();
        for version in candidates.into_iter().take(MAX_CHECKED) {
            if let Some(link) = &version.links.download {
                let hash = self
                    .sha256_of_link(&link.href, checkpoint.source.size)
                    .await?;
                if hash.as_deref() == Some(source_sha256) {
                    proven.push(file_uuid.to_owned());
                }
            }
        }
        Ok((recovery::verdict(proven, unchecked), names))
    }

    /// The SHA-256 of what a download link serves, or `None` when it serves more bytes than
    /// `size` (then it is not the source, and an endless body is not read to its end).
    async fn sha256_of_link(&self, link: &str, size: u64) -> Result<Option<String>, Error> {
        let mut sink = Sha256Sink::up_to(size);
        match self.download_link(link, &mut sink).await {
            Ok(_) => Ok(Some(sink.hex())),
            Err(_) if sink.overflowed() => Ok(None),
            Err(error) => Err(error),
        }
    }
}
