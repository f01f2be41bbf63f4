//! Downloads: the entry points, and the loop that runs the model's download machine from a
//! streamed response into a sink.

use std::path::Path;
use std::time::SystemTime;

use kommo_files_model::download::{DownloadAction, DownloadMachine};
use kommo_files_model::wire::{FileObject, FileVersion};
use kommo_files_model::Operation;

// The async flavour writes through `AsyncWriteExt`; the blocking one needs nothing here.
#[allow(unused_imports)]
use super::io::*;
use super::{files_available, flavour, fs, traced, Body, Client, DownloadWrite};
use crate::support::{self, Attempt};
use crate::trace;
use crate::{DownloadError, Error, Progress};

#[flavour(AFIT)]
impl Client {
    /// Streams the active version of `file` into `sink`; returns the bytes written.
    ///
    /// Redirects are followed; the token goes only to the drive host. A failure before the
    /// first byte is retried; a body cut short is [`DownloadError::Incomplete`] (the sink then
    /// holds a prefix: [`Client::download_to_path`] never leaves one).
    ///
    #[doc = example!(
        "let file = client.upload_bytes(\"a.txt\", &b\"hello\"[..], Default::default())" await "?;\n"
        "let mut bytes = Vec::new();\n"
        "client.download(&file, &mut bytes)" await "?;\n"
        "assert_eq!(bytes, b\"hello\");"
    )]
    pub async fn download<W: DownloadWrite>(
        &self,
        file: &FileObject,
        sink: &mut W,
    ) -> Result<u64, Error> {
        self.download_link(link_of(file)?, sink).await
    }

    /// Streams one version of a file into `sink`; returns the bytes written.
    ///
    #[doc = example!(
        "let file = client.upload_bytes(\"a.txt\", &b\"v1\"[..], Default::default())" await "?;\n"
        "let versions = client.versions(&file.uuid)" await "?;\n"
        "let mut bytes = Vec::new();\n"
        "client.download_version(&versions[0], &mut bytes)" await "?;\n"
        "assert_eq!(bytes, b\"v1\");"
    )]
    pub async fn download_version<W: DownloadWrite>(
        &self,
        version: &FileVersion,
        sink: &mut W,
    ) -> Result<u64, Error> {
        let link = version
            .links
            .download
            .as_ref()
            .map(|link| link.href.as_str());
        let link = link.ok_or(Error::download(DownloadError::NoLink))?;
        self.download_link(link, sink).await
    }

    /// Downloads the active version of `file` to `path`: written to a temporary file beside it
    /// and renamed only when complete, so `path` never holds a partial file.
    ///
    #[doc = example!(
        "let file = client.upload_bytes(\"a.txt\", &b\"hello\"[..], Default::default())" await "?;\n"
        "let path = std::env::temp_dir().join(\"kommo-files-doc-download.txt\");\n"
        "client.download_to_path(&file, &path)" await "?;\n"
        "assert_eq!(std::fs::read(&path)?, b\"hello\");"
    )]
    pub async fn download_to_path(
        &self,
        file: &FileObject,
        path: impl AsRef<Path>,
    ) -> Result<u64, Error> {
        self.download_to_path_with_progress(file, path, |_| {})
            .await
    }

    /// [`Client::download_to_path`], telling `on_progress` the bytes written so far (and the
    /// expected total, from `Content-Length`) after every chunk.
    ///
    #[doc = example!(
        "let file = client.upload_bytes(\"a.txt\", &b\"hello\"[..], Default::default())" await "?;\n"
        "let path = std::env::temp_dir().join(\"kommo-files-doc-progress.txt\");\n"
        "let mut seen = Vec::new();\n"
        "client.download_to_path_with_progress(&file, &path, |p| seen.push(p.acknowledged))" await "?;\n"
        "assert_eq!(seen.last(), Some(&5));"
    )]
    pub async fn download_to_path_with_progress(
        &self,
        file: &FileObject,
        path: impl AsRef<Path>,
        on_progress: impl FnMut(Progress) + Send,
    ) -> Result<u64, Error> {
        self.download_link_to_path_with_progress(link_of(file)?, path, on_progress)
            .await
    }

    /// Downloads a link (of a version, say) to `path`, with the guarantee of
    /// [`Client::download_to_path`].
    ///
    #[doc = example!(
        "let file = client.upload_bytes(\"a.txt\", &b\"v1\"[..], Default::default())" await "?;\n"
        "let versions = client.versions(&file.uuid)" await "?;\n"
        "let link = versions[0].links.download.as_ref().unwrap();\n"
        "let path = std::env::temp_dir().join(\"kommo-files-doc-version.txt\");\n"
        "client.download_link_to_path(&link.href, &path)" await "?;\n"
        "assert_eq!(std::fs::read(&path)?, b\"v1\");"
    )]
    pub async fn download_link_to_path(
        &self,
        url: &str,
        path: impl AsRef<Path>,
    ) -> Result<u64, Error> {
        self.download_link_to_path_with_progress(url, path, |_| {})
            .await
    }

    /// [`Client::download_link_to_path`] with progress; see
    /// [`Client::download_to_path_with_progress`].
    pub async fn download_link_to_path_with_progress(
        &self,
        url: &str,
        path: impl AsRef<Path>,
        mut on_progress: impl FnMut(Progress) + Send,
    ) -> Result<u64, Error> {
        let path = path.as_ref();
        let temporary = support::sibling_temp_path(path);
        let outcome = self
            .download_into_file(url, &temporary, &mut on_progress)
            .await;
        let renamed = match outcome {
            Ok(written) => fs::rename(&temporary, path)
                .await
                .map(|()| written)
                .map_err(|e| Error::io(format!("renaming into {}", path.display()), e)),
            Err(error) => Err(error),
        };
        if renamed.is_err() {
            let _ = fs::remove_file(&temporary).await;
        }
        renamed
    }

    async fn download_into_file(
        &self,
        url: &str,
        temporary: &Path,
        on_progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<u64, Error> {
        let writing = |e| Error::io(format!("writing {}", temporary.display()), e);
        files_available().map_err(writing)?;
        let mut sink = fs::File::create(temporary).await.map_err(writing)?;
        let written = self.stream_link(url, &mut sink, on_progress).await?;
        sink.sync_all().await.map_err(writing)?;
        Ok(written)
    }

    /// Streams a download link (`_links.download.href` of a file or a version, or a note's
    /// link) into `sink`; returns the bytes written.
    ///
    /// See [`Client::download`] for an example.
    pub async fn download_link<W: DownloadWrite>(
        &self,
        url: &str,
        sink: &mut W,
    ) -> Result<u64, Error> {
        self.stream_link(url, sink, &mut |_| {}).await
    }

    /// Runs the download machine inside its span.
    async fn stream_link<W: DownloadWrite>(
        &self,
        url: &str,
        sink: &mut W,
        on_progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<u64, Error> {
        let span = trace::download_span(url);
        traced(span, || self.run_download(url, sink, on_progress)).await
    }

    /// Runs the download machine: paces and sends what it asks, streams a success into
    /// `sink`, and hands back every head, chunk and failure.
    async fn run_download<W: DownloadWrite>(
        &self,
        url: &str,
        sink: &mut W,
        on_progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<u64, Error> {
        let policy = self.inner.config.retry;
        let drive = self.drive().await?;
        let mut machine = DownloadMachine::new(drive, url, policy, support::seed())?;
        let mut body: Option<Body> = None;
        let mut waits = trace::Waits::new(Operation::Download);
        loop {
            match machine.poll_action(SystemTime::now()) {
                DownloadAction::Pace => machine.handle_slot(waits.slot(self.slot())),
                DownloadAction::Wait { until } => {
                    waits.wait(None, until);
                    self.pause_until(until, None).await;
                }
                DownloadAction::Send { request, attempt } => {
                    let attempt = Attempt::call(Operation::Download, attempt);
                    let head = match self.send_authorized(request, attempt).await? {
                        Ok(response) => {
                            let (head, streamed) = response.into_parts();
                            body = Some(streamed);
                            Ok(http::Response::from_parts(head, ()))
                        }
                        Err(error) => Err(support::send_failure(error)),
                    };
                    machine.handle_head(head, SystemTime::now());
                }
                DownloadAction::ReadErrorBody { limit } => {
                    let bytes = match body.take() {
                        Some(body) => body.read_to_end(limit).await.unwrap_or_default(),
                        None => Default::default(),
                    };
                    machine.handle_error_body(bytes, SystemTime::now());
                }
                DownloadAction::ReadBody { expected } => {
                    let Some(mut streamed) = body.take() else {
                        return Err(Error::internal(
                            "download machine: a body to read, none received",
                        ));
                    };
                    let total = expected.unwrap_or(0);
                    loop {
                        match streamed.chunk().await {
                            Ok(Some(chunk)) => {
                                sink.write_all(&chunk)
                                    .await
                                    .map_err(|e| Error::io("writing the download", e))?;
                                machine.handle_chunk(chunk.len());
                                on_progress(Progress::new(machine.written(), total));
                            }
                            Ok(None) => {
                                machine.handle_end();
                                break;
                            }
                            Err(error) => {
                                machine.handle_body_error(
                                    support::send_failure(error),
                                    SystemTime::now(),
                                );
                                break;
                            }
                        }
                        // Still reading unless the machine stopped it (more than announced).
                        let action = machine.poll_action(SystemTime::now());
                        if !matches!(action, DownloadAction::AwaitResponse) {
                            break;
                        }
                    }
                    sink.flush()
                        .await
                        .map_err(|e| Error::io("writing the download", e))?;
                }
                DownloadAction::Done { written } => return Ok(written),
                DownloadAction::Failed(failure) => return Err(Error::download_failed(failure)),
                other => return Err(Error::internal(format!("download machine: {other:?}"))),
            }
        }
    }
}

/// The download link of a file's active version.
fn link_of(file: &FileObject) -> Result<&str, Error> {
    file.download_url()
        .ok_or(Error::download(DownloadError::NoLink))
}
