//! Tidy checks: rules of the architecture, run as ordinary `#[test]`s (rust-analyzer's style).

use std::path::{Path, PathBuf};

/// The workspace root (this crate lives in `xtask/`).
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::workspace_root;
    use std::fs;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    fn manifests() -> Vec<PathBuf> {
        let root = workspace_root();
        let mut out = vec![root.join("Cargo.toml"), root.join("xtask/Cargo.toml")];
        out.push(root.join("tests/Cargo.toml"));
        for entry in fs::read_dir(root.join("crates"))
            .into_iter()
            .flatten()
            .flatten()
        {
            out.push(entry.path().join("Cargo.toml"));
        }
        out.retain(|p| p.exists());
        out
    }

    /// The model must stay pure: no runtime, socket or HTTP client anywhere below it.
    #[test]
    fn model_has_no_io_dependency() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let output = Command::new(cargo)
            .args([
                "tree",
                "-p",
                "kommo-files-model",
                "-e",
                "normal",
                "--prefix",
                "none",
            ])
            .args(["--format", "{p}", "--offline"])
            .current_dir(workspace_root())
            .output()
            .expect("cargo tree runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let tree = String::from_utf8_lossy(&output.stdout);
        assert!(
            tree.contains("kommo-files-model"),
            "cargo tree printed: {tree}"
        );
        for line in tree.lines() {
            let name = line.split_whitespace().next().unwrap_or_default();
            for forbidden in ["tokio", "mio", "hyper", "ureq", "reqwest", "socket2"] {
                assert!(
                    name != forbidden && !name.starts_with(&format!("{forbidden}-")),
                    "kommo-files-model depends on {name}"
                );
            }
        }
    }

    /// The model decides; it never reads a clock, a file or a socket itself.
    #[test]
    fn model_source_does_no_io() {
        let mut files = Vec::new();
        rust_files(
            &workspace_root().join("crates/kommo-files-model/src"),
            &mut files,
        );
        assert!(!files.is_empty());
        let forbidden = [
            "SystemTime::now",
            "Instant::now",
            "std::fs",
            // (`core::net`'s address types are pure parsing, and allowed.)
            "std::net",
            "File::open",
            "TcpStream",
            "thread::sleep",
            "std::env",
        ];
        for file in files {
            let text = fs::read_to_string(&file).expect("readable source");
            for word in forbidden {
                assert!(!text.contains(word), "{} uses {word}", file.display());
            }
        }
    }

    /// maybe-async's `is_sync` is not additive (maybe-async-rs #6): one crate enabling it turns
    /// every async user sync. Only `must_be_sync` / `must_be_async` are allowed.
    #[test]
    fn no_feature_driven_maybe_async() {
        for manifest in manifests() {
            let text = fs::read_to_string(&manifest).expect("readable manifest");
            assert!(
                !text.contains("is_sync"),
                "{} enables maybe-async/is_sync",
                manifest.display()
            );
        }
        let mut files = Vec::new();
        rust_files(&workspace_root().join("crates"), &mut files);
        rust_files(&workspace_root().join("tests"), &mut files);
        for file in files {
            let text = fs::read_to_string(&file).expect("readable source");
            for attribute in [
                "maybe_async::maybe_async",
                "#[maybe_async]",
                "sync_impl",
                "async_impl",
            ] {
                assert!(
                    !text.contains(attribute),
                    "{} uses {attribute}",
                    file.display()
                );
            }
        }
    }
}
