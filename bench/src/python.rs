//! The Python baseline: `bench/python/upload_loop.py`, a plain `requests` loop. A machine
//! without Python 3 or `requests` skips it with a note instead of failing the run.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::fixture::TestFile;
use crate::BenchResult;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/upload_loop.py")
}

/// Why the Python loop cannot run here, or `None` when it can.
pub fn unavailable() -> Option<String> {
    match Command::new("python3")
        .args(["-c", "import requests"])
        .output()
    {
        Err(error) => Some(format!("python3 could not be started ({error})")),
        Ok(output) if !output.status.success() => Some(
            "python3 has no `requests` package (`pip install requests` to include this baseline)"
                .to_owned(),
        ),
        Ok(_) => None,
    }
}

/// Runs the script once; returns the time it measured around its own loop, and the uuid.
pub fn upload(account_url: &str, token: &str, file: &TestFile) -> BenchResult<(Duration, String)> {
    let output = Command::new("python3")
        .arg(script())
        .args([account_url, token])
        .arg(&file.path)
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "{} failed: {}",
            script().display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    let answer: Value = serde_json::from_slice(&output.stdout)?;
    let seconds = answer["seconds"]
        .as_f64()
        .ok_or("no seconds in the script's answer")?;
    let uuid = answer["uuid"]
        .as_str()
        .ok_or("no uuid in the script's answer")?;
    Ok((Duration::from_secs_f64(seconds), uuid.to_owned()))
}
