//! Shared helpers: a temporary directory, the command runner, an emulator with an isolated
//! environment, and the redaction applied before snapshots.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kommo_files::blocking::Client;
use kommo_files::ClientConfig;
use kommo_files_emulator::{Emulator, EmulatorBuilder, EmulatorHandle, RequestRecord};
use sha2::{Digest, Sha256};

/// How long any one command may take before the test gives up on it (a slow, busy machine).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// The part size every test emulator announces: a few hundred KiB make a multi-part upload.
pub const PART_SIZE: u64 = 256 * 1024;

/// A directory removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "kommo-files-cli-test-{}-{}-{label}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        // Canonical, so paths printed by the CLI start with exactly this prefix.
        Self(path.canonicalize().expect("canonical temporary directory"))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.0.join(relative)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a finished command left.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Panics with both streams unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn success(self) -> Self {
        self.expect_code(0)
    }

    /// Standard error parsed as the one JSON object `--json` prints.
    #[track_caller]
    pub fn stderr_json(&self) -> serde_json::Value {
        serde_json::from_str(self.stderr.trim())
            .unwrap_or_else(|e| panic!("stderr is not one JSON value ({e}):\n{}", self.stderr))
    }

    #[track_caller]
    pub fn stdout_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// `kommo-files` with an isolated environment: no inherited `KOMMO_*` or `XDG_*` variables,
/// `HOME`, `XDG_CONFIG_HOME` and `TMPDIR` inside `home`.
#[derive(Debug)]
pub struct Cli {
    command: Command,
}

impl Cli {
    pub fn new(home: &Path) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kommo-files"));
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            // RUST_LOG too: a developer's would add log lines to every command's output.
            if name.starts_with("KOMMO_") || name.starts_with("XDG_") || name == "RUST_LOG" {
                command.env_remove(name.as_ref());
            }
        }
        let tmp = home.join("tmp");
        std::fs::create_dir_all(&tmp).expect("create TMPDIR");
        command
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("TMPDIR", tmp)
            .current_dir(home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Self { command }
    }

    pub fn env(mut self, name: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.command.env(name, value);
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.command.current_dir(dir);
        self
    }

    /// Starts the command without waiting (for a test that kills it).
    pub fn spawn<S: AsRef<std::ffi::OsStr>>(mut self, args: &[S]) -> Running {
        let mut child = self.command.args(args).spawn().expect("spawn kommo-files");
        let stdout = reader(child.stdout.take().expect("piped stdout"));
        let stderr = reader(child.stderr.take().expect("piped stderr"));
        Running {
            child,
            stdout,
            stderr,
        }
    }

    /// Runs the command to its end with `input` on its standard input.
    pub fn run_with_stdin<S: AsRef<std::ffi::OsStr>>(mut self, args: &[S], input: &str) -> Output {
        use std::io::Write;
        self.command.stdin(Stdio::piped());
        let mut child = self.command.args(args).spawn().expect("spawn kommo-files");
        let mut stdin = child.stdin.take().expect("piped stdin");
        // Ignored: a command that fails early closes its end before reading.
        let _ = stdin.write_all(input.as_bytes());
        drop(stdin);
        let stdout = reader(child.stdout.take().expect("piped stdout"));
        let stderr = reader(child.stderr.take().expect("piped stderr"));
        Running {
            child,
            stdout,
            stderr,
        }
        .wait()
    }

    /// Runs the command to its end, answering on its standard input what `answer` makes of
    /// the first standard error line it returns `Some` for (a prompt's question).
    pub fn run_interactive<S: AsRef<std::ffi::OsStr>>(
        mut self,
        args: &[S],
        mut answer: impl FnMut(&str) -> Option<String>,
    ) -> Output {
        use std::io::{BufRead, Write};
        self.command.stdin(Stdio::piped());
        let mut child = self.command.args(args).spawn().expect("spawn kommo-files");
        let mut stdin = Some(child.stdin.take().expect("piped stdin"));
        let stdout = reader(child.stdout.take().expect("piped stdout"));
        let mut stderr = std::io::BufReader::new(child.stderr.take().expect("piped stderr"));
        let mut seen = String::new();
        let mut line = String::new();
        while stderr.read_line(&mut line).unwrap_or(0) > 0 {
            if let Some(input) = stdin.as_ref().and_then(|_| answer(&line)) {
                let mut pipe = stdin.take().expect("stdin");
                let _ = pipe.write_all(input.as_bytes());
            }
            seen.push_str(&line);
            line.clear();
        }
        drop(stdin);
        let stderr = std::thread::spawn(move || seen);
        Running {
            child,
            stdout,
            stderr,
        }
        .wait()
    }

    /// Runs the command to its end.
    pub fn run<S: AsRef<std::ffi::OsStr>>(self, args: &[S]) -> Output {
        self.spawn(args).wait()
    }
}

fn reader(mut stream: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// A started command.
#[derive(Debug)]
pub struct Running {
    child: Child,
    stdout: std::thread::JoinHandle<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Running {
    /// Waits for the end (killing it after a generous timeout).
    pub fn wait(mut self) -> Output {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for kommo-files") {
                break status;
            }
            if started.elapsed() > COMMAND_TIMEOUT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "kommo-files did not finish in {COMMAND_TIMEOUT:?}; stderr:\n{}",
                    self.stderr.join().unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Output {
            code: status.code().unwrap_or(-1),
            stdout: self.stdout.join().expect("stdout reader"),
            stderr: self.stderr.join().expect("stderr reader"),
        }
    }

    /// Sends it SIGINT, as Ctrl-C does, and returns what it printed once it ended.
    #[cfg(unix)]
    pub fn interrupt(self) -> Output {
        // `kill` as the shell's builtin: a minimal machine may have no /bin/kill.
        let sent = std::process::Command::new("sh")
            .args(["-c", &format!("kill -INT {}", self.child.id())])
            .status()
            .expect("run sh");
        assert!(sent.success(), "kill -INT failed");
        self.wait()
    }

    /// Kills it, and returns what it printed.
    pub fn kill(mut self) -> Output {
        self.child.kill().expect("kill kommo-files");
        self.wait()
    }
}

/// Polls `condition` every 50 ms for up to two minutes.
#[track_caller]
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "timed out waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An emulator, a home directory and a state directory for one test.
#[derive(Debug)]
pub struct TestEnv {
    pub emulator: EmulatorHandle,
    pub home: TempDir,
    token: String,
}

impl TestEnv {
    pub fn new() -> Self {
        Self::with(Emulator::builder())
    }

    /// An emulator from `builder` (with the test part size), used with its first token.
    pub fn with(builder: EmulatorBuilder) -> Self {
        let emulator = builder
            .max_part_size(PART_SIZE)
            .start()
            .expect("start the emulator");
        let token = emulator.token();
        Self {
            emulator,
            home: TempDir::new("env"),
            token,
        }
    }

    /// The same environment with another token.
    pub fn using_token(mut self, token: &str) -> Self {
        token.clone_into(&mut self.token);
        self
    }

    pub fn state_dir(&self) -> PathBuf {
        self.home.join("state")
    }

    /// A command connected to the emulator by the environment.
    pub fn cli(&self) -> Cli {
        Cli::new(self.home.path())
            .env("KOMMO_BASE_URL", self.emulator.account_url())
            .env("KOMMO_TOKEN", &self.token)
            .env("KOMMO_STATE_DIR", self.state_dir())
    }

    /// Runs `args` and expects exit 0.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> Output {
        self.cli().run(args).success()
    }

    /// The SDK pointed at the emulator with the full-scope token.
    pub fn sdk(&self) -> Client {
        let config = ClientConfig::for_url(self.emulator.account_url(), &self.emulator.token())
            .expect("client config");
        Client::new(config).expect("client")
    }

    /// Writes `size` deterministic bytes (different for each `seed`) under the home directory.
    pub fn file(&self, name: &str, size: usize, seed: u8) -> PathBuf {
        let path = self.home.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(&path, pattern(size, seed)).expect("write source file");
        path
    }

    /// Requests in the emulator log with this method whose path matches `predicate`.
    pub fn count_requests(&self, method: &str, predicate: impl Fn(&str) -> bool) -> usize {
        self.emulator
            .requests()
            .iter()
            .filter(|r| r.method == method && predicate(&r.path))
            .count()
    }

    /// `POST /v1.0/sessions`: one per upload started.
    pub fn sessions(&self) -> usize {
        self.count_requests("POST", |path| path == "/v1.0/sessions")
    }

    /// Every part upload seen (both URL shapes).
    pub fn part_requests(&self) -> Vec<RequestRecord> {
        self.emulator
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && is_part_path(&r.path))
            .collect()
    }

    /// The stored file with this uuid.
    #[track_caller]
    pub fn stored(&self, uuid: &str) -> kommo_files_emulator::StoredFile {
        self.emulator
            .files()
            .into_iter()
            .find(|f| f.uuid == uuid)
            .unwrap_or_else(|| panic!("the emulator has no file {uuid}"))
    }

    /// SHA-256 of the active version of a stored file.
    #[track_caller]
    pub fn stored_sha(&self, uuid: &str) -> String {
        let file = self.stored(uuid);
        let main = file
            .versions
            .iter()
            .find(|v| v.is_main)
            .expect("a main version");
        main.sha256.clone()
    }
}

pub fn is_part_path(path: &str) -> bool {
    path.starts_with("/upload/") || path.starts_with("/v1.0/sessions/upload/")
}

/// Bytes that differ by `seed` and do not repeat every part.
pub fn pattern(size: usize, seed: u8) -> Vec<u8> {
    (0..size)
        .map(|i| ((i * 31 + i / 251 + usize::from(seed) * 7) % 256) as u8)
        .collect()
}

pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn sha256_file(path: &Path) -> String {
    sha256(&std::fs::read(path).expect("read file"))
}

/// The UUID after `->` on the stdout line of an upload that mentions `name`.
#[track_caller]
pub fn uploaded_uuid(stdout: &str, name: &str) -> String {
    let line = stdout
        .lines()
        .find(|line| line.contains(name) && line.contains(" -> "))
        .unwrap_or_else(|| panic!("no upload line for {name} in:\n{stdout}"));
    let after = line.split(" -> ").nth(1).expect("text after ->");
    after.split_whitespace().next().expect("uuid").to_owned()
}

/// Whether `text` starts with a UUID: 8-4-4-4-12 hex digits.
fn uuid_at(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 36
        && bytes[..36].iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Whether `text` starts with a `YYYY-MM-DD HH:MM` date.
fn date_at(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 16
        && bytes[..16].iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b' ',
            13 => *b == b':',
            _ => b.is_ascii_digit(),
        })
}

/// What a UUID becomes in a snapshot: as wide as one, so tables stay aligned.
pub const UUID_MASK: &str = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
/// What a `YYYY-MM-DD HH:MM` date becomes in a snapshot.
pub const DATE_MASK: &str = "YYYY-MM-DD hh:mm";

/// Replaces what changes from run to run before a snapshot: the temporary directory, UUIDs,
/// dates, loopback ports, and the timing of `sent … in …` lines.
pub fn redact(text: &str, temp: &Path) -> String {
    let text = text.replace(&temp.display().to_string(), "[TMP]");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(c) = rest.chars().next() {
        if uuid_at(rest) {
            out.push_str(UUID_MASK);
            rest = &rest[36..];
        } else if date_at(rest) {
            out.push_str(DATE_MASK);
            rest = &rest[16..];
        } else if let Some(after) = rest.strip_prefix("127.0.0.1:") {
            let port = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            out.push_str("127.0.0.1:[PORT]");
            rest = &after[port..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    let lines: Vec<String> = out
        .split('\n')
        .map(
            |line| match (line.starts_with("sent "), line.find(" in ")) {
                (true, Some(at)) => format!("{} in [TIME]", &line[..at]),
                _ => line.to_owned(),
            },
        )
        .collect();
    lines.join("\n")
}

/// `redact` with the lines sorted: for output whose order depends on concurrency.
pub fn redact_sorted(text: &str, temp: &Path) -> String {
    let redacted = redact(text, temp);
    let mut lines: Vec<&str> = redacted.lines().collect();
    lines.sort_unstable();
    lines.join("\n") + "\n"
}

#[test]
fn redaction_covers_what_varies() {
    let temp = Path::new("/tmp/x");
    assert_eq!(
        redact(
            "uploaded /tmp/x/a.txt -> 0b7c5a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b (1 B) at 2026-11-25 16:03\n\
             sent 1.0 MiB in 0.3 s (3.3 MiB/s)\nurl http://127.0.0.1:40613/x",
            temp
        ),
        "uploaded [TMP]/a.txt -> xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (1 B) at YYYY-MM-DD hh:mm\nsent 1.0 MiB in [TIME]\nurl http://127.0.0.1:[PORT]/x"
    );
}

/// A path as a command-line argument (test paths are UTF-8).
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}
