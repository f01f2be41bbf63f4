//! `download`: a file's active version or one version, to a path the user chose or under the
//! server's name, which must be a plain file name (a server must not pick where we write).

use std::path::{Path, PathBuf};

use super::files::existing_file;
use super::Context;
use crate::cli::DownloadArgs;
use crate::failure::Failure;
use crate::output::{human_size, print_done, printable};
use crate::progress::Reporter;

pub fn download(context: &Context, args: &DownloadArgs) -> Result<(), Failure> {
    let file = existing_file(context, &args.uuid)?;
    let (name, size, link) = match &args.version {
        None => (
            file.name_with_extension(),
            file.size,
            file.download_url().map(str::to_owned),
        ),
        Some(version_uuid) => {
            let versions = context.client().versions(&args.uuid)?;
            let version = versions
                .into_iter()
                .find(|v| &v.uuid == version_uuid)
                .ok_or_else(|| {
                    Failure::refused(format!("{} has no version {version_uuid}", args.uuid))
                        .hint("`kommo-files versions UUID` lists them")
                })?;
            let link = version.links.download.as_ref().map(|l| l.href.clone());
            (version.name_with_extension(), version.size, link)
        }
    };
    let link = link.ok_or_else(|| {
        Failure::refused(format!(
            "the server gave no download link for {}",
            args.uuid
        ))
    })?;
    let target = target_path(args.output.as_deref(), &name)?;
    if target.exists() && !args.force {
        return Err(
            Failure::refused(format!("{} already exists", target.display()))
                .hint("pass --force to replace it, or -o to choose another path"),
        );
    }
    let reporter = Reporter::new(1, size, "received", context.verbosity());
    let mut progress = reporter.start(0, &name, size, 0);
    let written = context
        .client()
        .download_link_to_path_with_progress(&link, &target, |p| progress.update(p.acknowledged));
    progress.end();
    reporter.finish();
    let written = written?;
    print_done(
        context.json,
        &format!(
            "downloaded {} ({}) to {}",
            printable(&name),
            human_size(written),
            target.display()
        ),
        serde_json::json!({ "path": target, "bytes": written, "file_uuid": args.uuid }),
    )
}

/// Where the download goes: `output` itself, or the server's name (made safe) inside `output`
/// (a directory) or the current directory.
fn target_path(output: Option<&Path>, server_name: &str) -> Result<PathBuf, Failure> {
    let directory = match output {
        Some(path) if !path.is_dir() => return Ok(path.to_owned()),
        Some(directory) => directory.to_owned(),
        None => PathBuf::from("."),
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
        assert_eq!(
            target_path(Some(&directory), "a.txt").unwrap(),
            directory.join("a.txt")
        );
        let chosen = directory.join("kommo-files-no-such-dir").join("b.txt");
        assert_eq!(target_path(Some(&chosen), "../x").unwrap(), chosen);
        assert_eq!(target_path(None, "../x").unwrap_err().kind, "refused");
    }
}
