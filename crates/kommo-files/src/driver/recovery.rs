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
            Some(file_uuid) => self.stored_version(&checkpoint, file_uuid, &source_sha256).await,
            None => self.stored_file(&checkpoint, &source_sha256).await,
        };
        match found {
            Ok((Verdict::Adopt(file), _)) => Ok(Some(file)),
            Ok((Verdict::UploadAgain, _)) => Ok(None),
            Ok((_, candidates)) => Err(Error::final_part_unproven(checkpoint, candidates, None)),
            Err(cause) => Err(Error::final_part_unproven(checkpoint, Vec::new(), Some(cause))),
        }
    }

    /// Among new files of the upload's name and size, the one whose bytes are the source's.
    async fn stored_file(
        &self,
        checkpoint: &Checkpoint,
        source_sha256: &str,
    ) -> Result<(Verdict<FileObject>, Vec<String>), Error> {
        let query = recovery::recovery_query(checkpoint, CLOCK_SKEW);
        let mut candidates = Vec::new();
        let mut page = self.list_page(&query).await?;
        loop {
            let fitting = page.files.iter();
            candidates.extend(
                fitting
                    .filter(|file| recovery::is_candidate_file(file, checkpoint, CLOCK_SKEW))
                    .cloned(),
            );
            match self.next_page(&page).await? {
                Some(next) => page = next,
                None => break,
            }
        }
        let mut proven = Vec::new();
        let unchecked = candidates.len().saturating_sub(MAX_CHECKED);
        let names: Vec<String> = candidates.iter().map(|f| f.uuid.clone()).collect();
        for file in candidates.into_iter().take(MAX_CHECKED) {
            let Some(link) = file.download_url() else {
                continue;
            };
            if self.sha256_of_link(link).await? == source_sha256 {
                proven.push(file);
            }
        }
        Ok((recovery::verdict(proven, unchecked), names))
    }

    /// Among the file's versions created since the session opened with the upload's size, the
    /// one whose bytes are the source's; adopted as the file it belongs to.
    async fn stored_version(
        &self,
        checkpoint: &Checkpoint,
        file_uuid: &str,
        source_sha256: &str,
    ) -> Result<(Verdict<FileObject>, Vec<String>), Error> {
        let versions = self.versions(file_uuid).await?;
        let candidates: Vec<_> = versions
            .into_iter()
            .filter(|version| recovery::is_candidate_version(version, checkpoint, CLOCK_SKEW))
            .collect();
        let unchecked = candidates.len().saturating_sub(MAX_CHECKED);
        let names: Vec<String> = candidates.iter().map(|v| v.uuid.clone()).collect();
        let mut proven = Vec::new();
        for version in candidates.into_iter().take(MAX_CHECKED) {
            let Some(link) = version.links.download.as_ref() else {
                continue;
            };
            if self.sha256_of_link(&link.href).await? == source_sha256 {
                proven.push(version);
            }
        }
        let verdict = match recovery::verdict(proven, unchecked) {
            // The version is ours: the file it belongs to is the upload's result.
            Verdict::Adopt(_) => match self.get_file(file_uuid).await? {
                Some(file) => Verdict::Adopt(file),
                None => Verdict::UploadAgain,
            },
            Verdict::UploadAgain => Verdict::UploadAgain,
            Verdict::Ambiguous { proven, unproven } => Verdict::Ambiguous { proven, unproven },
        };
        Ok((verdict, names))
    }

    /// The SHA-256 of what a download link serves.
    async fn sha256_of_link(&self, link: &str) -> Result<String, Error> {
        let mut sink = Sha256Sink::default();
        self.download_link(link, &mut sink).await?;
        Ok(sink.hex())
    }
}
