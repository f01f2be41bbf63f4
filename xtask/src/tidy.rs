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

    /// The crates (names only) in the normal dependency tree of the SDK built with `features`.
    fn sdk_tree(features: &[&str]) -> Vec<String> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let output = Command::new(cargo)
            .args([
                "tree",
                "-p",
                "kommo-files",
                "-e",
                "normal",
                "--prefix",
                "none",
            ])
            .args(["--format", "{p}", "--offline"])
            .args(features)
            .current_dir(workspace_root())
            .output()
            .expect("cargo tree runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut names: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.split_whitespace().next())
            .map(str::to_owned)
            .collect();
        names.sort();
        names.dedup();
        assert!(names.iter().any(|n| n == "kommo-files"), "{names:?}");
        names
    }

    fn assert_absent(names: &[String], forbidden: &[&str], build: &str) {
        for name in forbidden {
            assert!(
                !names.iter().any(|n| n == name),
                "the {build} build depends on {name}: {names:?}"
            );
        }
    }

    /// The TLS crates whose presence says which stack a build has.
    const AWS_LC: &[&str] = &["aws-lc-rs", "aws-lc-sys"];
    const NATIVE_TLS: &[&str] = &[
        "native-tls",
        "openssl",
        "openssl-sys",
        "security-framework",
        "schannel",
    ];

    /// A blocking-only build (`ureq` + `rustls`) has no async HTTP stack (no reqwest, hyper,
    /// mio: tokio's I/O driver) and one TLS stack: rustls on ring.
    #[test]
    fn blocking_only_build_has_no_async_stack_and_one_tls_stack() {
        let names = sdk_tree(&["--no-default-features", "--features", "ureq,rustls"]);
        assert_absent(
            &names,
            &[
                "reqwest",
                "hyper",
                "hyper-util",
                "h2",
                "mio",
                "tokio-rustls",
                "hyper-rustls",
            ],
            "blocking-only",
        );
        assert_absent(&names, AWS_LC, "blocking-only");
        assert_absent(&names, NATIVE_TLS, "blocking-only");
        for needed in ["ureq", "rustls", "ring"] {
            assert!(names.iter().any(|n| n == needed), "no {needed}: {names:?}");
        }
    }

    /// The default build (both built-in transports) compiles one TLS stack for both: rustls on
    /// ring, never aws-lc-rs or native-tls beside it.
    #[test]
    fn default_build_has_one_tls_stack() {
        let names = sdk_tree(&[]);
        assert_absent(&names, AWS_LC, "default");
        assert_absent(&names, NATIVE_TLS, "default");
        for needed in ["ureq", "reqwest", "rustls", "ring"] {
            assert!(names.iter().any(|n| n == needed), "no {needed}: {names:?}");
        }
    }

    /// Without features both clients still exist, over a transport you supply: no HTTP client
    /// and no TLS at all.
    #[test]
    fn featureless_build_has_no_http_client() {
        let names = sdk_tree(&["--no-default-features"]);
        assert_absent(
            &names,
            &["ureq", "reqwest", "hyper", "mio", "rustls", "ring"],
            "feature-less",
        );
        assert_absent(&names, AWS_LC, "feature-less");
        assert_absent(&names, NATIVE_TLS, "feature-less");
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

    /// Every text file of the repository: not `target/`, `.git/`, nor fuzzing's generated
    /// corpora and artifacts; files that are not UTF-8 are skipped.
    fn text_files() -> Vec<(PathBuf, String)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
            for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if path.is_dir() {
                    if !matches!(name.as_ref(), "target" | ".git" | "corpus" | "artifacts") {
                        walk(&path, out);
                    }
                } else if let Ok(text) = fs::read_to_string(&path) {
                    out.push((path, text));
                }
            }
        }
        let mut out = Vec::new();
        walk(&workspace_root(), &mut out);
        assert!(out.len() > 100, "only {} text files found", out.len());
        out
    }

    /// This file, which names the strings some checks look for.
    fn is_this_file(path: &Path) -> bool {
        path.ends_with("xtask/src/tidy.rs")
    }

    /// Nothing points at a document a user of the crates or a clone does not have: the API
    /// contract is `docs/kommo-api.md`, in the repository.
    #[test]
    fn no_pointer_outside_the_repository() {
        // Assembled here so that this file does not hold the strings it looks for.
        let pointers = [
            format!("../{}", "shared"),
            format!("{}/spec", "shared"),
            format!("spec {}", '§'),
        ];
        for (path, text) in text_files() {
            for pointer in &pointers {
                assert!(
                    !text.contains(pointer.as_str()),
                    "{} points outside the repository ({pointer})",
                    path.display()
                );
            }
        }
    }

    /// GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to `-`.
    fn anchor(heading: &str) -> String {
        heading
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect()
    }

    /// Every `page.md#anchor` in the repository (Markdown links and `//` pointers alike) names a
    /// heading of a page in `docs/` or the root, so a renamed section cannot leave a pointer to
    /// nowhere.
    #[test]
    fn section_pointers_resolve() {
        let root = workspace_root();
        let mut checked = 0;
        for (path, text) in text_files() {
            if is_this_file(&path) {
                continue;
            }
            for (at, _) in text.match_indices(".md#") {
                let page: String = text[..at]
                    .chars()
                    .rev()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                let wanted: String = text[at + 4..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || matches!(c, '-' | '_'))
                    .collect();
                let file = [root.join("docs"), root.clone()]
                    .into_iter()
                    .map(|dir| dir.join(format!("{page}.md")))
                    .find(|file| file.exists());
                let Some(file) = file else {
                    continue; // another repository's page, or an example
                };
                let target = fs::read_to_string(&file).expect("readable page");
                let anchors: Vec<String> = target
                    .lines()
                    .filter(|line| line.starts_with('#'))
                    .map(|line| anchor(line.trim_start_matches('#')))
                    .collect();
                assert!(
                    anchors.contains(&wanted),
                    "{} points at {}#{wanted}, which has no such heading",
                    path.display(),
                    file.display()
                );
                checked += 1;
            }
        }
        assert!(checked > 20, "only {checked} section pointers found");
    }

    /// The MSRV (`rust-version` of the workspace) is what clippy's `incompatible_msrv` lint
    /// holds the code to (an API stabilised later is a warning, and CI denies warnings). So
    /// every member inherits that `rust-version`, the lint is not allowed anywhere (nor its
    /// group, `clippy::suspicious`, nor all of clippy), and no `#[clippy::msrv]` attribute or
    /// `clippy.toml` sets another MSRV.
    #[test]
    fn msrv_is_held_by_clippy() {
        for manifest in manifests()
            .into_iter()
            .chain(["bench", "soak"].map(|dir| workspace_root().join(dir).join("Cargo.toml")))
            .filter(|m| m.parent() != Some(workspace_root().as_path()))
        {
            let text = fs::read_to_string(&manifest).expect("readable manifest");
            assert!(
                text.contains("rust-version.workspace = true"),
                "{} does not inherit the workspace's rust-version",
                manifest.display()
            );
        }
        for (path, text) in text_files() {
            if is_this_file(&path) {
                continue;
            }
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            assert!(
                name != "clippy.toml" && name != ".clippy.toml",
                "{}: clippy's msrv comes from rust-version",
                path.display()
            );
            if name.ends_with(".rs") || name.ends_with(".toml") {
                for word in [
                    "incompatible_msrv",
                    "clippy::msrv",
                    "clippy::suspicious",
                    "clippy::all",
                ] {
                    assert!(!text.contains(word), "{} names {word}", path.display());
                }
                if name.ends_with(".toml") {
                    for line in text.lines() {
                        let key = line.split('=').next().unwrap_or_default().trim();
                        assert!(
                            key != "suspicious" && key != "all",
                            "{} sets a clippy lint group: {line}",
                            path.display()
                        );
                    }
                }
            }
        }
    }

    /// The MSRV of the whole locked dependency graph: no package in `Cargo.lock` that this
    /// platform builds declares a `rust-version` above the workspace's.
    #[test]
    fn dependencies_honour_the_msrv() {
        let root_manifest =
            fs::read_to_string(workspace_root().join("Cargo.toml")).expect("readable manifest");
        let msrv = root_manifest
            .lines()
            .find_map(|l| l.strip_prefix("rust-version = \""))
            .and_then(|rest| rest.strip_suffix('"'))
            .map(version)
            .expect("the workspace declares rust-version");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let host = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned()))
            .arg("-vV")
            .output()
            .expect("rustc runs");
        let host = String::from_utf8_lossy(&host.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
            .expect("rustc -vV names the host");
        let output = Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--locked"])
            .args(["--filter-platform", &host])
            .current_dir(workspace_root())
            .output()
            .expect("cargo metadata runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let json = String::from_utf8_lossy(&output.stdout);
        // Without a JSON parser (xtask depends on std only): each package object names its
        // `id` before its `rust_version`, and nothing else in the output has a `rust_version`.
        let mut checked = 0;
        for (at, _) in json.match_indices("\"rust_version\":") {
            let value = &json[at + "\"rust_version\":".len()..];
            let Some(declared) = value.strip_prefix('"') else {
                continue; // null: none declared
            };
            let declared = &declared[..declared.find('"').expect("a closed string")];
            let id = json[..at]
                .rfind("\"id\":\"")
                .map(|i| &json[i + 6..])
                .and_then(|s| s.split('"').next())
                .unwrap_or("?");
            assert!(
                version(declared) <= msrv,
                "{id} needs Rust {declared}, above the MSRV"
            );
            checked += 1;
        }
        assert!(checked > 20, "only {checked} rust_version fields found");
    }

    /// `1.89` or `1.89.0` as comparable numbers.
    fn version(text: &str) -> (u32, u32, u32) {
        let mut parts = text.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        (
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
        )
    }

    /// What crates.io and docs.rs need of each published crate (every crate in `crates/`), and
    /// `publish = false` on everything else.
    #[test]
    fn published_crates_are_complete() {
        let root = workspace_root();
        for dir in ["xtask", "tests", "bench", "soak", "fuzz"] {
            let text =
                fs::read_to_string(root.join(dir).join("Cargo.toml")).expect("readable manifest");
            assert!(
                text.contains("publish = false"),
                "{dir} must not be published"
            );
        }
        let licences = ["LICENSE-MIT", "LICENSE-APACHE"].map(|name| {
            (
                name,
                fs::read(root.join(name)).expect("licence at the root"),
            )
        });
        let mut crates = 0;
        for entry in fs::read_dir(root.join("crates"))
            .expect("crates/")
            .flatten()
        {
            let dir = entry.path();
            let manifest = fs::read_to_string(dir.join("Cargo.toml")).expect("readable manifest");
            let name = dir.display();
            assert!(!manifest.contains("publish = false"), "{name} is published");
            for key in [
                "description = ",
                "license.workspace = true",
                "readme = \"README.md\"",
            ] {
                assert!(manifest.contains(key), "{name}/Cargo.toml lacks {key}");
            }
            assert!(dir.join("README.md").exists(), "{name} has no README.md");
            for (licence, text) in &licences {
                assert_eq!(
                    fs::read(dir.join(licence)).ok().as_ref(),
                    Some(text),
                    "{name}/{licence} is missing or differs from the root's"
                );
            }
            let lib = dir.join("src/lib.rs");
            let root_file = if lib.exists() {
                lib
            } else {
                dir.join("src/main.rs")
            };
            let source = fs::read_to_string(&root_file).expect("readable crate root");
            assert!(
                source.contains("#![deny(missing_docs)]"),
                "{} does not deny missing docs",
                root_file.display()
            );
            if root_file.ends_with("lib.rs") {
                assert!(
                    manifest.contains("[package.metadata.docs.rs]")
                        && manifest.contains("rustdoc-args = [\"--cfg\", \"docsrs\"]"),
                    "{name}: docs.rs metadata"
                );
                assert!(
                    source.contains("#![cfg_attr(docsrs, feature(doc_cfg))]"),
                    "{name}: feature badges on docs.rs"
                );
            }
            crates += 1;
        }
        assert_eq!(crates, 5, "the published crates");
    }
}
