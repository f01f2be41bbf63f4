//! `download`: a file's active version or one version, to a path the user chose or under the
//! server's name, which must be a plain file name (a server must not pick where we write).

use std::path::{Path, PathBuf};

use super::files::existing_file;
use super::Context;
use crate::cli::DownloadArgs;
use crate::failure::Failure;
use crate::output::{human_size, print_done, printable};

pub fn download(context: &Context, args: &DownloadArgs) -> Result<(), Failure> {
    let file = existing_file(context, &args.uuid)?;
    let (name, link) = match &args.version {
        None => (
            file.name_with_extension(),
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
            (version.name_with_extension(), link)
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
    let written = context.client().download_link_to_path(&link, &target)?;
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

/// Where the download goes: `output` itself, or the server's name inside `output` (a directory)
/// or the current directory.
fn target_path(output: Option<&Path>, server_name: &str) -> Result<PathBuf, Failure> {
    let directory = match output {
        Some(path) if !path.is_dir() => return Ok(path.to_owned()),
        Some(directory) => directory.to_owned(),
        None => PathBuf::from("."),
    };
    let name = safe_file_name(server_name).ok_or_else(|| {
        Failure::refused(format!(
            "refusing the server's file name {:?}: it is not a plain file name",
            printable(server_name)
        ))
        .hint("choose the local name with -o PATH")
    })?;
    Ok(directory.join(name))
}

/// `name` when it is one harmless path component: no separators, no `..`, no control
/// characters, not hidden, not a device name, not too long. `None` otherwise.
pub fn safe_file_name(name: &str) -> Option<&str> {
    const RESERVED: [&str; 22] = [
        "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
        "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
    ];
    let stem = name.split('.').next().unwrap_or("").to_ascii_lowercase();
    let harmless = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && !name.ends_with(['.', ' '])
        && !name.contains(['/', '\\', ':', '*', '?', '"', '<', '>', '|'])
        && !name.chars().any(char::is_control)
        && !RESERVED.contains(&stem.trim_end());
    harmless.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass() {
        for name in ["contract.pdf", "Договор №1.docx", "a b (2).png", "x"] {
            assert_eq!(safe_file_name(name), Some(name));
        }
    }

    #[test]
    fn names_that_escape_or_hide_are_refused() {
        for name in [
            "",
            ".",
            "..",
            "../evil.txt",
            "..\\evil.txt",
            "/etc/passwd",
            "C:\\x",
            "a/b",
            ".bashrc",
            "evil.txt.",
            "nul",
            "CON.txt",
            "a\u{0}b",
            "a\nb",
            "x:stream",
        ] {
            assert_eq!(safe_file_name(name), None, "{name:?}");
        }
        assert_eq!(safe_file_name(&"a".repeat(256)), None);
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
