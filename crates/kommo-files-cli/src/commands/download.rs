//! `download`: files' active versions (or one version of one file), to a path the user chose or
//! under the server's names, which must not name another place (a server must not pick where
//! we write).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::files::existing_file;
use super::Context;
use crate::cli::DownloadArgs;
use crate::failure::Failure;
use crate::output::{human_size, print_json, printable};
use crate::progress::Reporter;

pub fn download(context: &Context, args: &DownloadArgs) -> Result<(), Failure> {
    let several = args.uuids.len() > 1;
    if several && args.version.is_some() {
        return Err(Failure::usage("--version takes one file"));
    }
    let output = Output::of(args.output.as_deref(), several)?;
    let mut taken = HashSet::new();
    let plans: Vec<Result<Plan, Failure>> = args
        .uuids
        .iter()
        .map(|uuid| plan(context, args, &output, uuid, &mut taken))
        .collect();
    if let Output::Into(directory) = &output {
        if plans.iter().any(Result::is_ok) && !directory.is_dir() {
            std::fs::create_dir_all(directory).map_err(|e| {
                Failure::io(format!("creating the directory {}", directory.display()), e)
            })?;
        }
    }
    let total = plans.iter().flatten().map(|plan| plan.size).sum();
    let reporter = Reporter::new(args.uuids.len(), total, "received", context.verbosity());
    let results: Vec<Result<Fetched, Failure>> = plans
        .into_iter()
        .enumerate()
        .map(|(index, plan)| fetch(context, &reporter, index, plan?))
        .collect();
    reporter.finish();
    report(context, args, &reporter, results)
}

/// Where `-o` puts the downloads.
#[derive(Debug)]
enum Output {
    /// This file (one download only).
    File(PathBuf),
    /// Under the server's names in this directory, created if missing.
    Into(PathBuf),
}

impl Output {
    /// `-o PATH` is a directory when it is one, ends with a path separator, or several files
    /// are downloaded (a missing one is then created); else the file to write. Without `-o`:
    /// the current directory.
    fn of(output: Option<&Path>, several: bool) -> Result<Self, Failure> {
        let Some(path) = output else {
            return Ok(Self::Into(PathBuf::from(".")));
        };
        let names_directory = path
            .as_os_str()
            .to_string_lossy()
            .ends_with(std::path::is_separator);
        if path.is_dir() {
            return Ok(Self::Into(path.to_owned()));
        }
        let exists = path.symlink_metadata().is_ok();
        match (several || names_directory, exists) {
            (false, _) => Ok(Self::File(path.to_owned())),
            (true, false) => Ok(Self::Into(path.to_owned())),
            (true, true) => Err(Failure::usage(format!(
                "-o {} is a file, and {} need a directory",
                path.display(),
                if several { "several files" } else { "a path ending with a separator" }
            ))
            .hint("name a directory, which is created when missing (-o ./inbox/), or download one file to -o FILE")),
        }
    }
}

/// One file to download: where from, where to.
#[derive(Debug)]
struct Plan {
    uuid: String,
    name: String,
    size: u64,
    link: String,
    target: PathBuf,
}

/// One file downloaded.
#[derive(Debug)]
struct Fetched {
    file_uuid: String,
    path: PathBuf,
    bytes: u64,
    name: String,
}

/// Finds the file (or version), its link and a target no other file of this run takes.
fn plan(
    context: &Context,
    args: &DownloadArgs,
    output: &Output,
    uuid: &str,
    taken: &mut HashSet<PathBuf>,
) -> Result<Plan, Failure> {
    let file = existing_file(context, uuid)?;
    let (name, size, link) = match &args.version {
        None => (
            file.name_with_extension(),
            file.size,
            file.download_url().map(str::to_owned),
        ),
        Some(version_uuid) => {
            let versions = context.client().versions(uuid)?;
            let version = versions
                .into_iter()
                .find(|v| &v.uuid == version_uuid)
                .ok_or_else(|| {
                    Failure::refused(format!("{uuid} has no version {version_uuid}"))
                        .hint("`kommo-files versions UUID` lists them")
                })?;
            let link = version.links.download.as_ref().map(|l| l.href.clone());
            (version.name_with_extension(), version.size, link)
        }
    };
    let link = link
        .ok_or_else(|| Failure::refused(format!("the server gave no download link for {uuid}")))?;
    let target = target_path(output, &name)?;
    if !taken.insert(target.clone()) {
        return Err(Failure::refused(format!(
            "{uuid} would be saved as {}, like another file of this download",
            target.display()
        ))
        .hint("download it on its own with -o PATH"));
    }
    if target.exists() && !args.force {
        return Err(
            Failure::refused(format!("{} already exists", target.display()))
                .hint("pass --force to replace it, or -o to choose another path"),
        );
    }
    Ok(Plan {
        uuid: uuid.to_owned(),
        name,
        size,
        link,
        target,
    })
}

/// Downloads one planned file with its progress shown.
fn fetch(
    context: &Context,
    reporter: &Arc<Reporter>,
    index: usize,
    plan: Plan,
) -> Result<Fetched, Failure> {
    let mut progress = reporter.start(index, &plan.name, plan.size, 0);
    let written =
        context
            .client()
            .download_link_to_path_with_progress(&plan.link, &plan.target, |p| {
                progress.update(p.acknowledged)
            });
    progress.end();
    Ok(Fetched {
        file_uuid: plan.uuid,
        path: plan.target,
        bytes: written?,
        name: plan.name,
    })
}

/// A line per file (or JSON), and a failure naming what did not come.
fn report(
    context: &Context,
    args: &DownloadArgs,
    reporter: &Reporter,
    results: Vec<Result<Fetched, Failure>>,
) -> Result<(), Failure> {
    let mut entries = Vec::new();
    let mut failures: Vec<(&str, Failure)> = Vec::new();
    for (uuid, result) in args.uuids.iter().zip(results) {
        match result {
            Ok(fetched) => {
                reporter.result(&format!(
                    "downloaded {} ({}) to {}",
                    printable(&fetched.name),
                    human_size(fetched.bytes),
                    fetched.path.display()
                ));
                entries.push(serde_json::json!({
                    "ok": true,
                    "file_uuid": fetched.file_uuid,
                    "path": fetched.path,
                    "bytes": fetched.bytes,
                }));
            }
            Err(failure) => {
                if args.uuids.len() > 1 {
                    reporter.note(&format!("failed {uuid}: {}", failure.message));
                }
                entries
                    .push(serde_json::json!({ "ok": false, "file_uuid": uuid, "error": failure }));
                failures.push((uuid, failure));
            }
        }
    }
    if context.json && failures.len() < args.uuids.len() {
        match entries.as_slice() {
            [single] => print_json(single)?,
            _ => print_json(&entries)?,
        }
    }
    match failures.len() {
        0 => Ok(()),
        1 if args.uuids.len() == 1 => Err(failures.remove(0).1),
        // Each failure was printed with its UUID already: the summary points at the first.
        failed => Err(Failure::of_batch(
            failed,
            args.uuids.len(),
            "were not downloaded",
            failures.first().map(|(uuid, failure)| (*uuid, failure)),
        )),
    }
}

/// Where the download goes: the chosen file, or the server's name (made safe) inside the
/// directory.
fn target_path(output: &Output, server_name: &str) -> Result<PathBuf, Failure> {
    let directory = match output {
        Output::File(path) => return Ok(path.clone()),
        Output::Into(directory) => directory,
    };
    let name = local_file_name(server_name).ok_or_else(|| {
        Failure::refused(format!(
            "refusing the server's file name {:?}: it names another place",
            printable(server_name)
        ))
        .hint("choose the local name with -o PATH")
    })?;
    if name != server_name {
        eprintln!("saving {:?} as {name:?}", printable(server_name));
    }
    Ok(directory.join(name))
}

/// The local name for a server-supplied `name`, which must not name another place.
///
/// Refused (`None`): path separators, `.` and `..`, control characters, nothing left. Made safe:
/// characters Windows or shells cannot take become `_`, trailing dots and spaces go, a hidden
/// name or a device name gets a leading `_`, and the name is cut to 255 bytes (keeping the
/// extension).
pub fn local_file_name(name: &str) -> Option<String> {
    const DEVICES: [&str; 22] = [
        "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
        "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
    ];
    const MAX_BYTES: usize = 255;
    if matches!(name, "" | "." | "..")
        || name.contains(['/', '\\'])
        || name.chars().any(char::is_control)
    {
        return None;
    }
    let replaced: String = name
        .chars()
        .map(|c| if ":*?\"<>|".contains(c) { '_' } else { c })
        .collect();
    let mut local = replaced.trim_end_matches(['.', ' ']).to_owned();
    let stem = local
        .split('.')
        .next()
        .unwrap_or("")
        .trim_end()
        .to_ascii_lowercase();
    if local.starts_with('.') || DEVICES.contains(&stem.as_str()) {
        local.insert(0, '_');
    }
    if local.len() > MAX_BYTES {
        let extension = match local.rfind('.') {
            Some(dot) if local.len() - dot <= 16 => local[dot..].to_owned(),
            _ => String::new(),
        };
        let mut cut = MAX_BYTES - extension.len();
        while !local.is_char_boundary(cut) {
            cut -= 1;
        }
        local = format!("{}{extension}", &local[..cut]);
    }
    (!local.is_empty()).then_some(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_kept() {
        for name in [
            "contract.pdf",
            "Договор №1.docx",
            "a b (2).png",
            "x",
            "a..b",
        ] {
            assert_eq!(local_file_name(name).as_deref(), Some(name));
        }
    }

    #[test]
    fn names_that_name_another_place_are_refused() {
        for name in [
            "",
            ".",
            "..",
            "...",
            "../evil.txt",
            "..\\evil.txt",
            "/etc/passwd",
            "C:\\x",
            "a/b",
            "a\u{0}b",
            "a\nb",
            "a\u{1b}[2J",
        ] {
            assert_eq!(local_file_name(name), None, "{name:?}");
        }
    }

    #[test]
    fn awkward_names_are_made_safe() {
        let safe = |name: &str| local_file_name(name).unwrap();
        assert_eq!(safe("Invoice 10:30.pdf"), "Invoice 10_30.pdf");
        assert_eq!(safe("what?.txt"), "what_.txt");
        assert_eq!(safe(".bashrc"), "_.bashrc");
        assert_eq!(safe("report.pdf. "), "report.pdf");
        assert_eq!(safe("CON.txt"), "_CON.txt");
        assert_eq!(safe("nul"), "_nul");
        let long = format!("{}.pdf", "я".repeat(200));
        let cut = safe(&long);
        assert!(cut.len() <= 255 && cut.ends_with(".pdf"), "{cut}");
    }

    #[test]
    fn an_existing_directory_takes_the_server_name_and_a_path_is_kept() {
        let directory = std::env::temp_dir();
        let into = Output::of(Some(&directory), false).unwrap();
        assert_eq!(
            target_path(&into, "a.txt").unwrap(),
            directory.join("a.txt")
        );
        let chosen = directory.join("kommo-files-no-such-dir").join("b.txt");
        let file = Output::of(Some(&chosen), false).unwrap();
        assert_eq!(target_path(&file, "../x").unwrap(), chosen);
        let here = Output::of(None, false).unwrap();
        assert_eq!(target_path(&here, "../x").unwrap_err().kind, "refused");
    }

    #[test]
    fn a_missing_directory_is_one_when_named_so_or_when_several_files_go_there() {
        let missing = std::env::temp_dir().join("kommo-files-no-such-dir");
        let is_into = |output: Output| matches!(output, Output::Into(_));
        assert!(!is_into(Output::of(Some(&missing), false).unwrap()));
        assert!(is_into(Output::of(Some(&missing), true).unwrap()));
        let slash = PathBuf::from(format!("{}/", missing.display()));
        assert!(is_into(Output::of(Some(&slash), false).unwrap()));
    }
}
