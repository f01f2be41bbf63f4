//! `export DIR`: every byte and the manifest compared with the emulator's store, a resumed
//! export after a kill, hostile and colliding names.

use std::path::{Path, PathBuf};

use kommo_files::model::wire::EntityType;
use kommo_files::UploadOptions;
use kommo_files_emulator::{Fault, FaultAction};

use crate::support::{arg, pattern, sha256, wait_until, TestEnv};

/// Every regular file below `dir` (relative, sorted), the export's own files left out.
fn exported(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read the export") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, base, out);
            } else {
                out.push(path.strip_prefix(base).unwrap().to_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.retain(|p| p != Path::new("manifest.json"));
    out.sort();
    out
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest.json"))
        .expect("manifest.json is JSON")
}

/// Checks every version the manifest names against the emulator's bytes; returns how many.
fn check_every_byte(env: &TestEnv, dir: &Path) -> usize {
    let manifest = manifest(dir);
    let mut checked = 0;
    for file in manifest["files"].as_array().expect("files") {
        for version in file["versions"].as_array().expect("versions") {
            let uuid = version["uuid"].as_str().unwrap();
            let Some(path) = version["path"].as_str() else {
                assert!(file["trashed"] == true, "no path: {version}");
                continue;
            };
            let path = dir.join(path);
            let bytes = std::fs::read(&path).expect("the exported file");
            let stored = env.emulator.version_bytes(uuid).expect("stored bytes");
            assert!(
                bytes == stored,
                "{} differs from version {uuid}",
                path.display()
            );
            assert_eq!(version["sha256"], sha256(&bytes));
            assert_eq!(version["size"], bytes.len());
            checked += 1;
        }
    }
    checked
}

#[test]
fn an_export_matches_the_account_byte_for_byte() {
    let env = TestEnv::new();
    let sdk = env.sdk();
    let first = sdk
        .upload_bytes("contract.pdf", pattern(300 * 1024, 1), UploadOptions::new())
        .unwrap();
    let second = sdk
        .upload_bytes(
            "contract.pdf",
            &b"another contract"[..],
            UploadOptions::new(),
        )
        .unwrap();
    sdk.upload_bytes(
        "contract.pdf",
        &b"v2 of the first"[..],
        UploadOptions::new().new_version_of(&first.uuid),
    )
    .unwrap();
    let trashed = sdk
        .upload_bytes("old.txt", &b"old"[..], UploadOptions::new())
        .unwrap();
    sdk.delete(&[&trashed.uuid]).unwrap();
    sdk.attach(&EntityType::Leads, 1001, &[&second.uuid])
        .unwrap();
    let dir = env.home.join("export");

    let output = env.ok(&[
        "export",
        arg(&dir),
        "--all-versions",
        "--links",
        "--trashed",
        "-j",
        "3",
    ]);
    assert!(output.stdout.contains("4 version(s)"), "{}", output.stdout);
    assert_eq!(
        exported(&dir),
        [
            PathBuf::from("contract (2).pdf"),
            PathBuf::from("contract.pdf"),
            PathBuf::from("versions/contract.").with_file_name(versioned(&env, &first.uuid)),
        ]
    );
    assert_eq!(check_every_byte(&env, &dir), 3);
    let manifest = manifest(&dir);
    let files = manifest["files"].as_array().unwrap();
    let of = |uuid: &str| {
        files
            .iter()
            .find(|f| f["uuid"] == uuid)
            .expect("in the manifest")
    };
    assert_eq!(of(&first.uuid)["versions"].as_array().unwrap().len(), 2);
    assert_eq!(of(&second.uuid)["links"][0]["id"], 1001);
    // The server does not serve a trashed file: its metadata is exported, not its bytes.
    assert_eq!(of(&trashed.uuid)["trashed"], true);
    assert!(of(&trashed.uuid)["versions"][0]["unavailable"].is_string());
    assert!(of(&first.uuid)["created_by"].is_object());

    // A second run downloads nothing.
    env.emulator.clear_requests();
    let again = env.ok(&["export", arg(&dir), "--all-versions"]);
    assert!(
        again.stdout.contains("0 downloaded, 3 already there"),
        "{}",
        again.stdout
    );
    assert_eq!(
        env.count_requests("GET", |p| p.starts_with("/download/")),
        0
    );
}

/// The name the older version of `file` gets in `versions/`.
fn versioned(env: &TestEnv, file: &str) -> String {
    let versions = env.sdk().versions(file).unwrap();
    let old = versions.iter().find(|v| !v.is_main).unwrap();
    let short: String = old
        .uuid
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    format!("contract.{short}.pdf")
}

#[test]
fn a_killed_export_resumes_with_what_is_missing() {
    let env = TestEnv::new();
    let sdk = env.sdk();
    for i in 0..6u8 {
        sdk.upload_bytes(&format!("f{i}.bin"), pattern(2000, i), UploadOptions::new())
            .unwrap();
    }
    env.emulator.add_fault(
        Fault::new(FaultAction::Delay { millis: 600_000 })
            .method("GET")
            .path("/download/*")
            .nth(4),
    );
    let dir = env.home.join("export");
    let running = env.cli().spawn(&["export", arg(&dir), "-j", "1"]);
    wait_until("the fourth download hangs", || {
        env.emulator.faults()[0].fired == 1
    });
    running.kill();
    env.emulator.clear_faults();
    assert_eq!(exported(&dir).iter().filter(|p| !hidden(p)).count(), 3);
    assert!(!dir.join("manifest.json").exists());

    env.emulator.clear_requests();
    let output = env.ok(&["export", arg(&dir)]);
    assert!(
        output.stdout.contains("3 downloaded, 3 already there"),
        "{}",
        output.stdout
    );
    assert_eq!(
        env.count_requests("GET", |p| p.starts_with("/download/")),
        3
    );
    assert_eq!(check_every_byte(&env, &dir), 6);
    assert!(
        exported(&dir).iter().all(|p| !hidden(p)),
        "{:?}",
        exported(&dir)
    );
}

fn hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

#[test]
fn hostile_and_colliding_names_stay_inside_and_apart() {
    let env = TestEnv::new();
    let sdk = env.sdk();
    let long = format!("{}.txt", "n".repeat(240));
    let names = [
        "../escape.txt",
        "/etc/passwd",
        "con",
        "CON.txt",
        "line\nbreak.txt",
        ".hidden",
        "..",
        &long,
        "same.txt",
        "SAME.txt",
        "same.txt",
        "manifest.json",
    ];
    let mut uploaded = 0;
    for (i, name) in names.iter().enumerate() {
        // The server may refuse a name; what it stores is exported safely.
        if sdk
            .upload_bytes(
                name,
                format!("content {i}").into_bytes(),
                UploadOptions::new(),
            )
            .is_ok()
        {
            uploaded += 1;
        }
    }
    assert!(uploaded >= 10, "{uploaded} uploaded");
    let dir = env.home.join("out").join("export");
    env.ok(&["export", arg(&dir)]);
    let files = exported(&dir);
    assert_eq!(
        files.len(),
        uploaded,
        "one file each, none overwritten: {files:?}"
    );
    for file in &files {
        assert_eq!(file.components().count(), 1, "{file:?}");
        let name = file.to_string_lossy();
        assert!(!name.starts_with('.'), "{name:?}");
        assert!(!name.chars().any(char::is_control), "{name:?}");
        assert!(name.len() <= 200, "{}", name.len());
        assert!(!name.eq_ignore_ascii_case("con") && !name.eq_ignore_ascii_case("con.txt"));
    }
    assert!(!env.home.join("out").join("escape.txt").exists());
    assert_eq!(check_every_byte(&env, &dir), uploaded);
    let lower: std::collections::BTreeSet<String> = files
        .iter()
        .map(|f| f.to_string_lossy().to_lowercase())
        .collect();
    assert_eq!(lower.len(), files.len(), "unique without case");
}

/// A file that got a new active version since the last export is downloaded again, over the
/// old copy at the same path; the others are kept.
#[test]
fn a_new_active_version_replaces_the_exported_copy() {
    let env = TestEnv::new();
    let sdk = env.sdk();
    let file = sdk
        .upload_bytes("report.txt", &b"first"[..], UploadOptions::new())
        .unwrap();
    sdk.upload_bytes("other.txt", &b"other"[..], UploadOptions::new())
        .unwrap();
    let dir = env.home.join("export");
    env.ok(&["export", arg(&dir)]);
    sdk.upload_bytes(
        "report.txt",
        &b"second, longer"[..],
        UploadOptions::new().new_version_of(&file.uuid),
    )
    .unwrap();
    let again = env.ok(&["export", arg(&dir)]);
    assert!(
        again.stdout.contains("1 downloaded, 1 already there"),
        "{}",
        again.stdout
    );
    assert_eq!(
        std::fs::read(dir.join("report.txt")).unwrap(),
        b"second, longer"
    );
    assert_eq!(exported(&dir).len(), 2);
    assert_eq!(check_every_byte(&env, &dir), 2);
}
