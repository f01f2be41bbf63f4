//! The raw loops: the requests the clients send for one upload (drive discovery, the session,
//! every part to the URL the previous answer gave), written straight on ureq and reqwest with
//! no SDK around them. Their throughput is what the HTTP stacks and the emulator allow here.

use std::io::Read;

use serde_json::{json, Value};
use tokio::io::AsyncReadExt;

use crate::fixture::TestFile;
use crate::BenchResult;

const OCTET_STREAM: &str = "application/octet-stream";

/// Where an answer sends the loop next.
enum Next {
    Part(String),
    Done(String),
}

fn next(answer: &Value) -> BenchResult<Next> {
    match (answer["next_url"].as_str(), answer["uuid"].as_str()) {
        (Some(url), _) => Ok(Next::Part(url.to_owned())),
        (None, Some(uuid)) => Ok(Next::Done(uuid.to_owned())),
        _ => Err(format!("a part answer with neither next_url nor uuid: {answer}").into()),
    }
}

fn session_body(file: &TestFile) -> Vec<u8> {
    json!({ "file_name": file.name(), "file_size": file.size })
        .to_string()
        .into_bytes()
}

/// `(upload_url, max_part_size)` from a session answer.
fn session_start(session: &Value) -> BenchResult<(String, u64)> {
    let url = session["upload_url"].as_str().ok_or("no upload_url")?;
    let part = session["max_part_size"]
        .as_u64()
        .ok_or("no max_part_size")?;
    Ok((url.to_owned(), part))
}

fn drive_url(account: &Value) -> BenchResult<String> {
    Ok(account["drive_url"]
        .as_str()
        .ok_or("no drive_url")?
        .to_owned())
}

/// Uploads `file` with a ureq agent; returns the file's uuid.
pub fn ureq_upload(account_url: &str, token: &str, file: &TestFile) -> BenchResult<String> {
    let agent = ureq::Agent::new_with_defaults();
    let bearer = format!("Bearer {token}");
    let json = |mut response: ureq::http::Response<ureq::Body>| -> BenchResult<Value> {
        Ok(serde_json::from_slice(&response.body_mut().read_to_vec()?)?)
    };
    let account = json(
        agent
            .get(&format!("{account_url}/api/v4/account?with=drive_url"))
            .header("Authorization", &bearer)
            .header("Accept", "application/json")
            .call()?,
    )?;
    let session = json(
        agent
            .post(&format!("{}/v1.0/sessions", drive_url(&account)?))
            .header("Authorization", &bearer)
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .send(&session_body(file)[..])?,
    )?;
    let (mut url, part) = session_start(&session)?;
    let mut source = std::fs::File::open(&file.path)?;
    let mut buffer = vec![0u8; part as usize];
    let mut left = file.size;
    loop {
        let len = left.min(part) as usize;
        source.read_exact(&mut buffer[..len])?;
        left -= len as u64;
        let answer = json(
            agent
                .post(&url)
                .header("Authorization", &bearer)
                .header("Accept", "application/json")
                .header("Content-Type", OCTET_STREAM)
                .send(&buffer[..len])?,
        )?;
        match next(&answer)? {
            Next::Part(next_url) => url = next_url,
            Next::Done(uuid) => return Ok(uuid),
        }
    }
}

/// Uploads `file` with a reqwest client on the caller's runtime; returns the file's uuid.
pub async fn reqwest_upload(
    account_url: &str,
    token: &str,
    file: &TestFile,
) -> BenchResult<String> {
    let client = reqwest::Client::new();
    let bearer = format!("Bearer {token}");
    async fn json(response: reqwest::Response) -> BenchResult<Value> {
        let response = response.error_for_status()?;
        Ok(serde_json::from_slice(&response.bytes().await?)?)
    }
    let account = json(
        client
            .get(format!("{account_url}/api/v4/account?with=drive_url"))
            .header("Authorization", &bearer)
            .header("Accept", "application/json")
            .send()
            .await?,
    )
    .await?;
    let session = json(
        client
            .post(format!("{}/v1.0/sessions", drive_url(&account)?))
            .header("Authorization", &bearer)
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .body(session_body(file))
            .send()
            .await?,
    )
    .await?;
    let (mut url, part) = session_start(&session)?;
    let mut source = tokio::fs::File::open(&file.path).await?;
    let mut left = file.size;
    loop {
        let len = left.min(part) as usize;
        // reqwest takes the body by value, so each part is its own buffer (as in the client).
        let mut buffer = vec![0u8; len];
        source.read_exact(&mut buffer).await?;
        left -= len as u64;
        let answer = json(
            client
                .post(&url)
                .header("Authorization", &bearer)
                .header("Accept", "application/json")
                .header("Content-Type", OCTET_STREAM)
                .body(buffer)
                .send()
                .await?,
        )
        .await?;
        match next(&answer)? {
            Next::Part(next_url) => url = next_url,
            Next::Done(uuid) => return Ok(uuid),
        }
    }
}
