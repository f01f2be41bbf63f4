//! `-v`, `-vv` and `RUST_LOG`: the SDK's events on standard error, results untouched on
//! standard output, and never the token or an upload URL's signed segment.

use kommo_files_emulator::{Fault, FaultAction};

use crate::support::{arg, Output, TestEnv};

/// An environment whose second part upload is answered 503 (retried), and a 600 KiB file.
fn env_with_a_retry() -> (TestEnv, std::path::PathBuf) {
    let env = TestEnv::new();
    let refused = FaultAction::Status {
        status: 503,
        body: None,
        content_type: None,
    };
    env.emulator
        .add_fault(Fault::new(refused).method("POST").path("/upload/*").nth(2));
    let path = env.file("big.bin", 600 * 1024, 1);
    (env, path)
}

/// The log lines of standard error (the progress lines are the rest).
fn log_lines(output: &Output) -> Vec<&str> {
    output
        .stderr
        .lines()
        .filter(|line| {
            [" INFO ", " DEBUG ", " TRACE ", " WARN "]
                .iter()
                .any(|level| line.contains(level))
        })
        .collect()
}

/// Neither the token nor any upload URL's signed segment is in `output`.
#[track_caller]
fn assert_no_secret(env: &TestEnv, output: &Output) {
    let mut secrets = vec![env.emulator.token()];
    secrets.extend(env.emulator.requests().iter().filter_map(|record| {
        let path = record.path.split('?').next()?;
        path.strip_prefix("/upload/").map(str::to_owned)
    }));
    assert!(secrets.len() > 1, "the upload URLs were seen");
    for secret in secrets {
        assert!(
            !output.stderr.contains(&secret),
            "{secret}:\n{}",
            output.stderr
        );
        assert!(
            !output.stdout.contains(&secret),
            "{secret}:\n{}",
            output.stdout
        );
    }
}

#[test]
fn verbose_upload_tells_the_retry_on_stderr() {
    let (env, path) = env_with_a_retry();
    let output = env.ok(&["-v", "upload", arg(&path)]);
    let lines = log_lines(&output);
    let refused = lines
        .iter()
        .find(|line| line.contains("answered") && line.contains("status=503"))
        .unwrap_or_else(|| panic!("the 503:\n{}", output.stderr));
    assert!(refused.contains(" INFO "), "{refused}");
    assert!(
        refused.contains("part=2") && refused.contains("attempt=1"),
        "{refused}"
    );
    assert!(
        refused.contains("upload{file=\"big.bin\""),
        "in the upload's span: {refused}"
    );
    let retry = lines
        .iter()
        .find(|line| line.contains("retrying"))
        .unwrap_or_else(|| panic!("the retry:\n{}", output.stderr));
    assert!(
        retry.contains("part=2") && retry.contains("delay_ms="),
        "{retry}"
    );
    assert!(lines.iter().any(|line| line.contains("upload completed")));
    // -v is info: no request that went well, no pacing wait.
    assert!(
        !lines.iter().any(|line| line.contains(" DEBUG ")),
        "{}",
        output.stderr
    );
    // The result alone on standard output; the progress lines still there.
    assert_eq!(output.stdout.lines().count(), 1, "{}", output.stdout);
    assert!(output.stdout.starts_with("uploaded "), "{}", output.stdout);
    assert!(
        output.stderr.contains("big.bin: started"),
        "{}",
        output.stderr
    );
    assert_no_secret(&env, &output);
}

#[test]
fn very_verbose_shows_every_request() {
    let (env, path) = env_with_a_retry();
    let output = env.ok(&["-vv", "upload", arg(&path)]);
    let lines = log_lines(&output);
    let parts: Vec<_> = lines
        .iter()
        .filter(|line| line.contains("answered") && line.contains("operation=\"upload_part\""))
        .collect();
    // Three parts, the second one twice.
    assert_eq!(parts.len(), 4, "{}", output.stderr);
    assert!(parts
        .iter()
        .any(|line| line.contains("part=2") && line.contains("attempt=2")));
    assert!(
        parts.iter().all(|line| line.contains("bytes=")),
        "{parts:?}"
    );
    assert!(lines.iter().any(|line| line.contains("create_session")));
    assert_no_secret(&env, &output);
}

#[test]
fn rust_log_overrides_the_flags() {
    let (env, path) = env_with_a_retry();
    // Without a flag: nothing.
    let quiet = env.ok(&["upload", arg(&path)]);
    assert!(log_lines(&quiet).is_empty(), "{}", quiet.stderr);
    // RUST_LOG alone turns it on.
    let output = env
        .cli()
        .env("RUST_LOG", "kommo_files=debug")
        .run(&["upload", arg(&path)])
        .success();
    assert!(
        log_lines(&output)
            .iter()
            .any(|line| line.contains(" DEBUG ")),
        "{}",
        output.stderr
    );
    // And wins over -vv.
    let output = env
        .cli()
        .env("RUST_LOG", "warn")
        .run(&["-vv", "upload", arg(&path)])
        .success();
    assert!(log_lines(&output).is_empty(), "{}", output.stderr);
}
