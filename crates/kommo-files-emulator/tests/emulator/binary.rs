//! The binary prints its URLs and a token, serves, and stops on Ctrl-C (SIGINT).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::common::agent;

#[test]
fn the_binary_starts_serves_and_stops_on_ctrl_c() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kommo-files-emulator"))
        .args([
            "--token",
            "bin-token:crm,files",
            "--max-part-size",
            "1024",
            "--integration",
            "client-1,secret-1,http://127.0.0.1:9/cb?a=1,2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut account_url = String::new();
    let mut token_line = String::new();
    let mut integration_line = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(url) = line.strip_prefix("account_url: ") {
            account_url = url.to_owned();
        }
        if line.starts_with("integration: ") {
            integration_line = line.clone();
        }
        if line.starts_with("token: ") {
            token_line = line.clone();
        }
        if line == "ready" {
            break;
        }
    }
    assert_eq!(token_line, "token: bin-token (crm,files)");
    assert_eq!(
        integration_line,
        "integration: client-1 (redirect_uri http://127.0.0.1:9/cb?a=1,2)"
    );
    // The integration's credentials reach the token endpoint: a wrong code is a 400.
    let refused = agent()
        .post(&format!("{account_url}/oauth2/access_token"))
        .header("Content-Type", "application/json")
        .send(
            r#"{"client_id":"client-1","client_secret":"secret-1","grant_type":"authorization_code","code":"x","redirect_uri":"http://127.0.0.1:9/cb?a=1,2"}"#,
        )
        .unwrap();
    assert_eq!(refused.status(), 400);
    let mut response = agent()
        .get(&format!("{account_url}/api/v4/account?with=drive_url"))
        .header("Authorization", "Bearer bin-token")
        .call()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response
        .body_mut()
        .read_to_string()
        .unwrap()
        .contains("drive_url"));

    // Ctrl-C: the process exits by itself, successfully.
    let pid = child.id().to_string();
    // `kill` as the shell's builtin: a minimal machine may have no /bin/kill.
    let sent = Command::new("sh")
        .args(["-c", &format!("kill -INT {pid}")])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

/// `--tls`: both listeners serve HTTPS and the printed CA file is what a client must trust.
#[cfg(feature = "tls")]
#[test]
fn the_binary_serves_https_with_tls() {
    let dir = crate::common::temp_dir("bin-tls");
    let ca_path = dir.join("ca.pem");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kommo-files-emulator"))
        .args(["--tls", "--tls-ca-path"])
        .arg(&ca_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().unwrap();
    let (mut account_url, mut printed_ca, mut token) =
        (String::new(), String::new(), String::new());
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(url) = line.strip_prefix("account_url: ") {
            account_url = url.to_owned();
        }
        if let Some(path) = line.strip_prefix("ca_certificate: ") {
            printed_ca = path.to_owned();
        }
        if let Some(rest) = line.strip_prefix("token: ") {
            token = rest.split(' ').next().unwrap_or_default().to_owned();
        }
        if line == "ready" {
            break;
        }
    }
    assert!(
        account_url.starts_with("https://127.0.0.1:"),
        "{account_url}"
    );
    assert_eq!(printed_ca, ca_path.display().to_string());
    let agent = crate::tls::trusting(&std::fs::read_to_string(&ca_path).unwrap());
    let response = agent
        .get(&format!("{account_url}/api/v4/account"))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(response.status(), 200);
    let sent = Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    assert!(sent.success());
    assert!(child.wait().unwrap().success());
}
