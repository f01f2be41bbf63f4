//! `upload`: files and directory trees, a few at a time, each resumable. A re-run of the same
//! command skips what is done, continues what was cut off from its checkpoint, and repeats
//! no attachment or note.

mod job;
mod links;
mod sources;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use self::job::Job;
use self::links::Links;
use self::sources::{collect_sources, Source};
use super::Context;
use crate::cli::UploadArgs;
use crate::failure::Failure;
use crate::output::{print_json, printable};
use crate::progress::Reporter;
use crate::state::{default_state_dir, digest, Batch};

/// What became of one file, as `--json` prints it.
#[derive(Debug, Serialize)]
struct Outcome {
    path: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    uuid: Option<String>,
    /// `uploaded`, `resumed`, `already uploaded` or `failed`.
    status: &'static str,
    size: u64,
    /// Bytes the server acknowledged in this run, over every attempt: less than `size` for a
    /// resumed upload, more after parts were sent again, 0 for one done before. The outcomes'
    /// `sent` add up to the closing `sent …` line.
    sent: u64,
    /// With `--verify`: the stored copy's SHA-256 matched the local file's.
    #[serde(skip_serializing_if = "Option::is_none")]
    verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Failure>,
}

impl Outcome {
    /// Nothing done yet.
    fn of(source: &Source) -> Self {
        Self {
            path: source.path.clone(),
            uuid: None,
            status: "failed",
            size: source.size,
            sent: 0,
            verified: None,
            error: None,
        }
    }
}

pub fn upload(context: &Context, args: &UploadArgs) -> Result<(), Failure> {
    // An embedded emulator ends with this process, and so does its uploads' state.
    let throwaway_state = (args.state_dir.is_none() && context.is_emulator()).then(|| {
        std::env::temp_dir().join(format!("kommo-files-emulator-state-{}", std::process::id()))
    });
    let result = upload_batch(context, args, throwaway_state.as_deref());
    if let Some(directory) = throwaway_state {
        let _ = std::fs::remove_dir_all(directory);
    }
    result
}

fn upload_batch(
    context: &Context,
    args: &UploadArgs,
    throwaway_state: Option<&Path>,
) -> Result<(), Failure> {
    let sources = collect_sources(&args.paths)?;
    if args.version_of.is_some() && sources.len() != 1 {
        return Err(Failure::usage(format!(
            "--version-of takes exactly one file, and {} were given",
            sources.len()
        )));
    }
    let state_dir = match (&args.state_dir, throwaway_state) {
        (Some(directory), _) => directory.clone(),
        (None, Some(directory)) => directory.to_owned(),
        (None, None) => default_state_dir(),
    };
    let batch = Arc::new(Batch::open(
        &state_dir,
        &batch_key(context, args, &sources),
        args.no_resume,
    )?);
    let total_bytes = sources.iter().map(|s| s.size).sum();
    let reporter = Reporter::new(sources.len(), total_bytes, "sent", context.verbosity());

    let cancel = crate::interrupt::cancel_on_ctrl_c();
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    let workers = usize::from(args.concurrency).min(sources.len()).max(1);
    let links = Links::new(
        context.client().clone(),
        &batch,
        &args.attach,
        &args.note,
        args.link_batch as usize,
    );
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                if cancel.is_cancelled() {
                    break;
                }
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(source) = sources.get(index) else {
                    break;
                };
                let job = Job {
                    client: context.client().clone(),
                    args,
                    cancel: &cancel,
                    batch: &batch,
                    reporter: &reporter,
                    links: &links,
                };
                let outcome = job.run(index, source);
                reporter.file_finished(finished.fetch_add(1, Ordering::SeqCst) + 1);
                outcomes
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((index, outcome));
            });
        }
    });

    let mut outcomes = outcomes
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // The last, partly filled batches of attachments and notes; a failed one fails its files.
    for (path, failure) in links.finish() {
        let Some((_, outcome)) = outcomes.iter_mut().find(|(_, o)| o.path == path) else {
            continue;
        };
        if outcome.error.is_none() {
            reporter.note(&format!(
                "failed {}: {}",
                printable(&path.display().to_string()),
                failure.message
            ));
            outcome.status = "failed";
            outcome.error = Some(failure);
        }
    }
    outcomes.sort_by_key(|(index, _)| *index);
    let outcomes: Vec<Outcome> = outcomes.into_iter().map(|(_, outcome)| outcome).collect();
    reporter.finish();
    let done = outcomes.iter().filter(|o| o.error.is_none()).count();
    if done == sources.len() {
        batch.remove()?;
    }
    if context.json {
        print_json(&outcomes)?;
    }
    if done == sources.len() {
        return Ok(());
    }
    if cancel.is_cancelled() {
        return Err(Failure::interrupted(format!(
            "interrupted: {done} of {} file(s) uploaded",
            sources.len()
        )));
    }
    // Each failure was printed with its file already: the summary only points at the first.
    let first = outcomes
        .iter()
        .find_map(|o| Some((printable(&o.path.display().to_string()), o.error.as_ref()?)));
    Err(Failure::of_batch(
        sources.len() - done,
        sources.len(),
        "failed",
        first
            .as_ref()
            .map(|(path, failure)| (path.as_str(), *failure)),
    ))
}

/// The batch's identity: the account, the files and what is done with them.
fn batch_key(context: &Context, args: &UploadArgs, sources: &[Source]) -> String {
    let mut parts: Vec<Vec<u8>> = vec![
        context.account_url().as_bytes().to_vec(),
        args.version_of.clone().unwrap_or_default().into_bytes(),
        vec![u8::from(args.preview)],
    ];
    parts.extend(
        args.attach
            .iter()
            .map(|e| format!("attach {e}").into_bytes()),
    );
    parts.extend(args.note.iter().map(|e| format!("note {e}").into_bytes()));
    parts.extend(
        sources
            .iter()
            .map(|s| s.path.to_string_lossy().into_owned().into_bytes()),
    );
    let borrowed: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    digest(&borrowed)
}
