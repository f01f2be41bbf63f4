//! A minimal blocking driver of `kommo-files-model` over plain `ureq`, to run the model against
//! the emulator before the real clients exist.
//!
//! It is deliberately small: the SDK's drivers (issue 4) are the product; this is the
//! cross-check that the model and the emulator, written independently, agree on the contract.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use kommo_files_model::endpoint::{self, AccountHost, DriveHost};
use kommo_files_model::upload::{
    Action, Checkpoint, SendFailure, SendFailureKind, SourceInfo, UploadConfig, UploadError,
    UploadEvent, UploadMachine,
};
use kommo_files_model::wire::{FileObject, NewSession};
use kommo_files_model::{AccessToken, BaseUrl};

/// An agent that returns every status as a response, follows no redirect by itself (the model
/// decides where the token may go) and reads bodies of any size.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// Sends one request and maps ureq's errors onto the model's [`SendFailure`] kinds.
pub fn send(
    agent: &ureq::Agent,
    request: http::Request<Bytes>,
) -> Result<http::Response<Bytes>, SendFailure> {
    let (parts, body) = request.into_parts();
    let request = http::Request::from_parts(parts, body.as_ref());
    let response = agent.run(request).map_err(failure)?;
    let (parts, mut body) = response.into_parts();
    let bytes = body
        .with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .map_err(failure)?;
    Ok(http::Response::from_parts(parts, Bytes::from(bytes)))
}

fn failure(error: ureq::Error) -> SendFailure {
    let kind = match &error {
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => SendFailureKind::Connect,
        ureq::Error::Timeout(_) => SendFailureKind::Timeout,
        ureq::Error::Io(_) | ureq::Error::Protocol(_) => SendFailureKind::Io,
        ureq::Error::BodyExceedsLimit(_) => SendFailureKind::Body,
        _ => SendFailureKind::Other,
    };
    SendFailure::new(kind, error.to_string())
}

/// The drive host of the account at `account_url`, discovered with `GET /api/v4/account`.
pub fn discover_drive(
    agent: &ureq::Agent,
    account_url: &str,
    token: &str,
) -> Result<DriveHost, Box<dyn std::error::Error>> {
    let token = AccessToken::new(token)?;
    let account = AccountHost::new(BaseUrl::parse(account_url)?, token.clone());
    let response = send(agent, endpoint::account_request(&account))?;
    Ok(DriveHost::new(endpoint::parse_drive_url(&response)?, token))
}

/// Uploads `data` as `file_name`, reporting every machine event to `on_event`.
pub fn upload(
    agent: &ureq::Agent,
    drive: DriveHost,
    session: NewSession,
    data: &[u8],
    config: UploadConfig,
    on_event: impl FnMut(&UploadEvent),
) -> Result<FileObject, UploadError> {
    let source = SourceInfo::of_size(data.len() as u64);
    let machine = UploadMachine::new(drive, session, source, config, seed());
    run(agent, machine, data, on_event)
}

/// Continues the upload of `checkpoint` with `data` as the source.
pub fn resume(
    agent: &ureq::Agent,
    drive: DriveHost,
    checkpoint: Checkpoint,
    data: &[u8],
    config: UploadConfig,
    on_event: impl FnMut(&UploadEvent),
) -> Result<FileObject, UploadError> {
    let source = SourceInfo::of_size(data.len() as u64);
    let machine =
        UploadMachine::resume(drive, checkpoint, source, config, SystemTime::now(), seed())?;
    run(agent, machine, data, on_event)
}

/// Runs `machine` until it finishes.
pub fn run(
    agent: &ureq::Agent,
    machine: UploadMachine,
    data: &[u8],
    on_event: impl FnMut(&UploadEvent),
) -> Result<FileObject, UploadError> {
    run_until(agent, machine, data, usize::MAX, on_event).expect("an unbounded run finishes")
}

/// Runs `machine` until it finishes, or stops after `max_sends` requests (a simulated crash:
/// `None`).
pub fn run_until(
    agent: &ureq::Agent,
    mut machine: UploadMachine,
    data: &[u8],
    max_sends: usize,
    mut on_event: impl FnMut(&UploadEvent),
) -> Option<Result<FileObject, UploadError>> {
    let mut sends = 0;
    loop {
        while let Some(event) = machine.poll_event() {
            on_event(&event);
        }
        match machine.poll_action(SystemTime::now()) {
            Action::Read { offset, len } => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                let end = start.saturating_add(len).min(data.len());
                machine.handle_read(Bytes::copy_from_slice(&data[start..end]), SystemTime::now());
            }
            Action::Send(request) => {
                if sends == max_sends {
                    return None;
                }
                sends += 1;
                let result = send(agent, request);
                machine.handle_response(result, SystemTime::now());
            }
            Action::Wait { until } => {
                std::thread::sleep(until.duration_since(SystemTime::now()).unwrap_or_default());
            }
            Action::Done(file) => return Some(Ok(*file)),
            Action::Failed(error) => return Some(Err(error)),
            Action::AwaitResponse => unreachable!("this driver answers every request at once"),
            _ => unreachable!("an action this driver does not know"),
        }
    }
}

/// `GET /v1.0/files/{uuid}` through the model, for checks after an upload.
pub fn get_file(
    agent: &ureq::Agent,
    drive: &DriveHost,
    uuid: &str,
) -> Result<Option<FileObject>, Box<dyn std::error::Error>> {
    let response = send(agent, endpoint::get_file_request(drive, uuid))?;
    Ok(endpoint::parse_get_file(&response)?)
}

/// Downloads a link, following redirects with [`endpoint::redirect_request`] (at most five).
pub fn download(
    agent: &ureq::Agent,
    drive: &DriveHost,
    url: &str,
) -> Result<Bytes, Box<dyn std::error::Error>> {
    let mut request = endpoint::download_request(drive, url)?;
    for _ in 0..=5 {
        let next = request.clone();
        let response = send(agent, request)?;
        if !response.status().is_redirection() {
            if !response.status().is_success() {
                return Err(format!("download answered {}", response.status()).into());
            }
            return Ok(response.into_body());
        }
        let location = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or("a redirect without Location")?;
        request = endpoint::redirect_request(drive, &next, location)?;
    }
    Err("too many redirects".into())
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    kommo_files_model::upload::hex(&sha2::Sha256::digest(data))
}

fn seed() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
