//! Upload and download progress when standard error is not a terminal: plain lines, no escape sequences.

use crate::support::{arg, redact, TestEnv};

/// The percentages of `label`'s progress lines, in order.
fn percentages(stderr: &str, label: &str) -> Vec<u32> {
    stderr
        .lines()
        .filter_map(|line| line.strip_prefix(label)?.strip_prefix(": "))
        .filter_map(|rest| rest.split_once("% (")?.0.parse().ok())
        .collect()
}

#[test]
fn plain_progress_lines_for_a_multi_part_upload() {
    let env = TestEnv::new();
    let path = env.file("big.bin", 700 * 1024, 1);
    let output = env.ok(&["upload", arg(&path)]);

    assert!(!output.stderr.contains('\x1b'), "{:?}", output.stderr);
    assert!(!output.stderr.contains('\r'), "{:?}", output.stderr);
    let lines: Vec<&str> = output.stderr.lines().collect();
    assert_eq!(lines[0], "[1/1] big.bin: started (700.0 KiB)");
    let seen = percentages(&output.stderr, "[1/1] big.bin");
    assert!(seen.len() >= 2, "{}", output.stderr);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert_eq!(seen.last(), Some(&100));
    let last = lines.last().expect("a last line");
    assert!(
        last.starts_with("sent 700.0 KiB in ") && last.ends_with("/s)"),
        "{last}"
    );
    insta::assert_snapshot!("progress", redact(&output.stderr, env.home.path()));
    // Progress goes to stderr; stdout holds only the result.
    assert_eq!(output.stdout.lines().count(), 1, "{}", output.stdout);
}

#[test]
fn each_file_of_a_batch_has_its_own_lines() {
    let env = TestEnv::new();
    let dir = env.home.join("batch");
    env.file("batch/one.bin", 300 * 1024, 1);
    env.file("batch/sub/two.bin", 600 * 1024, 2);
    env.file("batch/three.txt", 5, 3);
    let output = env.ok(&["upload", arg(&dir)]);

    assert!(!output.stderr.contains('\x1b'), "{:?}", output.stderr);
    // A directory is walked in sorted order: one.bin, sub/two.bin, three.txt.
    for (label, size) in [
        ("[1/3] one.bin", "300.0 KiB"),
        ("[2/3] two.bin", "600.0 KiB"),
        ("[3/3] three.txt", "5 B"),
    ] {
        let started = format!("{label}: started ({size})");
        assert!(output.stderr.contains(&started), "{}", output.stderr);
        let seen = percentages(&output.stderr, label);
        assert_eq!(seen.last(), Some(&100), "{label}: {}", output.stderr);
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{label}: {seen:?}");
    }
    assert!(
        output
            .stderr
            .lines()
            .last()
            .unwrap()
            .starts_with("sent 900.0 KiB in "),
        "{}",
        output.stderr
    );
    assert_eq!(output.stdout.lines().count(), 3, "{}", output.stdout);
    assert_eq!(env.emulator.files().len(), 3);
}

#[test]
fn a_download_reports_progress_too() {
    let env = TestEnv::new();
    let path = env.file("big.bin", 700 * 1024, 4);
    let uploaded = env.ok(&["upload", arg(&path)]);
    let uuid = crate::support::uploaded_uuid(&uploaded.stdout, "big.bin");
    let target = env.home.join("copy.bin");

    let output = env.ok(&["download", &uuid, "-o", arg(&target)]);
    assert!(!output.stderr.contains('\x1b'), "{:?}", output.stderr);
    let lines: Vec<&str> = output.stderr.lines().collect();
    assert_eq!(lines[0], "[1/1] big.bin: started (700.0 KiB)");
    let seen = percentages(&output.stderr, "[1/1] big.bin");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert_eq!(seen.last(), Some(&100), "{}", output.stderr);
    let last = lines.last().expect("a last line");
    assert!(last.starts_with("received 700.0 KiB in "), "{last}");
    assert_eq!(
        std::fs::read(&target).unwrap(),
        std::fs::read(&path).unwrap()
    );
}

#[test]
fn quiet_leaves_only_the_results() {
    let env = TestEnv::new();
    let path = env.file("big.bin", 700 * 1024, 5);
    let output = env.ok(&["upload", "--quiet", arg(&path)]);
    assert_eq!(output.stderr, "", "no progress, no summary");
    assert!(output.stdout.starts_with("uploaded "), "{}", output.stdout);
    let uuid = crate::support::uploaded_uuid(&output.stdout, "big.bin");

    let target = env.home.join("copy.bin");
    let output = env.ok(&["-q", "download", &uuid, "-o", arg(&target)]);
    assert_eq!(output.stderr, "");
    assert!(
        output.stdout.starts_with("downloaded big.bin"),
        "{}",
        output.stdout
    );
    // Errors still speak.
    let failed = env
        .cli()
        .run(&["-q", "info", "no-such-file"])
        .expect_code(1);
    assert!(failed.stderr.starts_with("error: "), "{}", failed.stderr);
}
