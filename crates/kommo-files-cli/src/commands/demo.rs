//! `demo`: the guided tour. It starts an embedded emulator and runs real commands against it,
//! each shown as you would type it: upload with progress, a new version, list, attach, note,
//! delete, restore, download, and a SHA-256 check of what came back.

use std::path::{Path, PathBuf};

use clap::Parser;
use kommo_files_emulator::Emulator;
use sha2::{Digest, Sha256};

use super::{dispatch, Context};
use crate::cli::{Cli, DemoArgs, Global};
use crate::connection::connect_emulator;
use crate::failure::Failure;
use crate::output::{human_size, print};

/// Parts as small as the emulator allows comfortably, so a few MiB make a multi-part upload.
const DEMO_PART_SIZE: u64 = 256 * 1024;
/// The lead the demo attaches to (the emulator seeds leads 1001-1003).
const DEMO_LEAD: &str = "leads:1001";

pub fn run(args: &DemoArgs, global: &Global) -> Result<(), Failure> {
    if global.json {
        return Err(
            Failure::usage("the demo is a tour for people; it has no --json output")
                .hint("run the commands it shows with --json"),
        );
    }
    let workspace = Workspace::create(args.keep_in.as_deref())?;
    let connection = connect_emulator(Emulator::builder().max_part_size(DEMO_PART_SIZE))?;
    let emulator_url = connection.account_url.clone();
    let login = match connection
        .emulator_login
        .as_ref()
        .and_then(|t| t.expires_at())
    {
        Some(expires_at) => format!(
            "It logged in with OAuth 2.0 as integration `{}` would: the consent page, the code \
             in its redirect, the token endpoint (the access token lasts until {} UTC and is \
             renewed automatically).\n",
            crate::login::EMULATOR_CLIENT_ID,
            crate::dates::format_utc(expires_at)
        ),
        None => String::new(),
    };
    let context = Context::new(connection, global);
    let tour = Tour {
        context: &context,
        workspace: &workspace,
    };
    say(&format!(
        "kommo-files demo: an embedded Kommo emulator is listening at {emulator_url}\n\
         (no account, nothing configured).\n{login}Each step runs the command shown.\n"
    ))?;

    let size = args.size.0;
    let first = workspace.generate("quarterly-report.bin", size, 1)?;
    tour.step(
        "Upload a file in parts, with a progress bar",
        &["upload", path_arg(&first)],
    )?;
    let uuid = tour.only_file_uuid()?;

    let second = workspace.generate("quarterly-report-v2.bin", size + size / 3, 2)?;
    tour.step(
        "Upload a new version of it",
        &["upload", path_arg(&second), "--version-of", &uuid],
    )?;
    tour.step("Its versions (the new one is active)", &["versions", &uuid])?;
    tour.step("List the account's files", &["ls"])?;
    tour.step("Attach it to a lead", &["attach", &uuid, DEMO_LEAD])?;
    tour.step(
        "Add an attachment note with a comment",
        &["note", DEMO_LEAD, &uuid, "--text", "Q3 report, signed"],
    )?;
    tour.step("Where it is attached", &["links", &uuid])?;
    tour.step("Move it to the trash", &["rm", &uuid, "--yes"])?;
    tour.step("The trash, with the purge date", &["trash"])?;
    tour.step("Restore it", &["restore", &uuid])?;
    let downloads = workspace.downloads()?;
    tour.step(
        "Download the active version",
        &["download", &uuid, "-o", path_arg(&downloads)],
    )?;

    let downloaded = downloads.join("quarterly-report-v2.bin");
    let (expected, actual) = (sha256_of(&second)?, sha256_of(&downloaded)?);
    if expected != actual {
        return Err(Failure::refused(format!(
            "the downloaded copy differs: SHA-256 {actual}, expected {expected}"
        )));
    }
    let requests = context
        .connection
        .emulator
        .as_ref()
        .map_or(0, |emulator| emulator.requests().len());
    say(&format!(
        "\nVerified: the download's SHA-256 is the uploaded version's ({expected}).\n\
         The tour took {requests} HTTP requests, paced at 7 per second as Kommo requires.\n\
         Next: set KOMMO_BASE_URL and KOMMO_TOKEN (or KOMMO_SUBDOMAIN), or run \
         `kommo-files auth login`, and run the same commands against your account; \
         `kommo-files --help` lists them all.\n"
    ))?;
    Ok(())
}

/// Runs the tour's steps.
struct Tour<'a> {
    context: &'a Context,
    workspace: &'a Workspace,
}

impl Tour<'_> {
    /// Shows `words` as a command line and runs it.
    fn step(&self, title: &str, words: &[&str]) -> Result<(), Failure> {
        if crate::interrupt::cancel_on_ctrl_c().is_cancelled() {
            return Err(Failure::interrupted("interrupted: the tour stopped"));
        }
        let shown: Vec<String> = words.iter().map(|w| shell_quote(w)).collect();
        say(&format!(
            "\n## {title}\n$ kommo-files {}\n",
            shown.join(" ")
        ))?;
        let state_dir = path_arg(&self.workspace.state);
        let mut argv = vec!["kommo-files"];
        argv.extend_from_slice(words);
        if words.first() == Some(&"upload") {
            argv.extend_from_slice(&["--state-dir", state_dir]);
        }
        let cli = Cli::try_parse_from(argv)
            .map_err(|e| Failure::usage(format!("the demo built a bad command: {e}")))?;
        dispatch(self.context, &cli.command)
    }

    fn only_file_uuid(&self) -> Result<String, Failure> {
        let mut files = self.context.client().list(Default::default());
        match files.next() {
            Some(file) => Ok(file?.uuid),
            None => Err(Failure::refused("the uploaded file is not listed")),
        }
    }
}

/// The demo's files: generated sources, upload state and downloads, in one directory.
struct Workspace {
    root: PathBuf,
    state: PathBuf,
    keep_in: Option<PathBuf>,
}

impl Workspace {
    fn create(keep_in: Option<&Path>) -> Result<Self, Failure> {
        let root = std::env::temp_dir().join(format!("kommo-files-demo-{}", std::process::id()));
        std::fs::create_dir_all(&root)
            .map_err(|e| Failure::io(format!("creating {}", root.display()), e))?;
        if let Some(directory) = keep_in {
            std::fs::create_dir_all(directory)
                .map_err(|e| Failure::io(format!("creating {}", directory.display()), e))?;
        }
        Ok(Self {
            state: root.join("state"),
            root,
            keep_in: keep_in.map(Path::to_owned),
        })
    }

    /// A file of `size` pseudo-random bytes (different for each `seed`).
    fn generate(&self, name: &str, size: u64, seed: u64) -> Result<PathBuf, Failure> {
        let path = self.root.join(name);
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let bytes: Vec<u8> = (0..size)
            .map(|_| {
                // xorshift64: cheap bytes that do not compress to nothing.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        std::fs::write(&path, bytes)
            .map_err(|e| Failure::io(format!("writing {}", path.display()), e))?;
        say(&format!(
            "(generated {} of test data in {})\n",
            human_size(size),
            path.display()
        ))?;
        Ok(path)
    }

    /// Where the download goes: `--keep-in`, or a directory of its own in the workspace.
    fn downloads(&self) -> Result<PathBuf, Failure> {
        let directory = self
            .keep_in
            .clone()
            .unwrap_or_else(|| self.root.join("downloads"));
        std::fs::create_dir_all(&directory)
            .map_err(|e| Failure::io(format!("creating {}", directory.display()), e))?;
        Ok(directory)
    }
}

/// The tour leaves nothing behind, whether it ends well or not.
impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn say(text: &str) -> Result<(), Failure> {
    print(text)
}

fn path_arg(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

fn shell_quote(word: &str) -> String {
    if word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:=".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn sha256_of(path: &Path) -> Result<String, Failure> {
    let bytes =
        std::fs::read(path).map_err(|e| Failure::io(format!("reading {}", path.display()), e))?;
    Ok(kommo_files::model::upload::hex(&Sha256::digest(&bytes)))
}
