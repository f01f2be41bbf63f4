//! A file name chosen by the server must not decide where a download is written.

use kommo_files::UploadOptions;

use crate::support::{arg, TestEnv};

/// Every entry under `dir`, recursively, relative to it.
fn tree(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten() {
            let path = entry.expect("entry").path();
            found.push(path.strip_prefix(dir).unwrap().display().to_string());
            if path.is_dir() {
                pending.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn server_names_that_escape_the_directory_are_refused() {
    let env = TestEnv::new();
    let sdk = env.sdk();
    let outer = env.home.join("outer");
    let inner = outer.join("inner");
    std::fs::create_dir_all(&inner).unwrap();

    for name in [
        "../evil.txt",
        "..",
        "/etc/passwd",
        "../../x.sh",
        "a\\..\\b.txt",
        "evil\u{1b}[2J.txt",
    ] {
        let file = sdk
            .upload_bytes(name, &b"x"[..], UploadOptions::new())
            .expect("the emulator stores any name");
        assert_eq!(
            file.name_with_extension(),
            name,
            "the emulator keeps the name"
        );

        let refused = env
            .cli()
            .current_dir(&inner)
            .run(&["download", &file.uuid, "-o", arg(&inner)])
            .expect_code(1);
        assert!(
            refused.stderr.contains("refusing the server's file name"),
            "{name}: {}",
            refused.stderr
        );
        assert!(
            refused
                .stderr
                .contains("hint: choose the local name with -o PATH"),
            "{name}: {}",
            refused.stderr
        );
        // Without -o (the current directory) it is refused too.
        env.cli()
            .current_dir(&inner)
            .run(&["download", &file.uuid])
            .expect_code(1);
        let json = env
            .cli()
            .current_dir(&inner)
            .run(&["download", &file.uuid, "--json"])
            .expect_code(1)
            .stderr_json();
        assert_eq!(json["error"]["kind"], "refused", "{name}");
        assert_eq!(tree(&outer), ["inner"], "{name}: nothing was written");

        // A local name chosen with -o is fine.
        let safe = inner.join("safe.txt");
        env.cli()
            .run(&["download", &file.uuid, "-o", arg(&safe)])
            .success();
        assert_eq!(std::fs::read(&safe).unwrap(), b"x");
        std::fs::remove_file(&safe).unwrap();
    }
    assert!(!env.home.join("evil.txt").exists());
}

#[test]
fn awkward_server_names_are_saved_under_a_safe_name() {
    let env = TestEnv::new();
    let sdk = env.sdk();
    let directory = env.home.join("downloads");
    std::fs::create_dir_all(&directory).unwrap();
    for (name, local) in [
        (".bashrc", "_.bashrc"),
        ("Invoice 10:30?.pdf", "Invoice 10_30_.pdf"),
        ("CON.txt", "_CON.txt"),
    ] {
        let file = sdk
            .upload_bytes(name, &b"x"[..], UploadOptions::new())
            .expect("the emulator stores any name");
        let output = env
            .cli()
            .run(&["download", &file.uuid, "-o", arg(&directory)])
            .success();
        assert!(
            output
                .stderr
                .contains(&format!("saving {name:?} as {local:?}")),
            "{}",
            output.stderr
        );
        assert_eq!(std::fs::read(directory.join(local)).unwrap(), b"x");
    }
    assert_eq!(
        tree(&directory),
        ["Invoice 10_30_.pdf", "_.bashrc", "_CON.txt"],
        "only the safe names were written"
    );
}
