//! A simulated drive host and a driver loop with simulated time, for the upload machine's tests.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use kommo_files_model::endpoint::DriveHost;
use kommo_files_model::upload::{
    Action, Checkpoint, SendFailure, SendFailureKind, SourceInfo, UploadConfig, UploadError,
    UploadEvent, UploadMachine, UploadRequest,
};
use kommo_files_model::wire::{FileObject, NewSession};
use kommo_files_model::{AccessToken, BaseUrl};

pub const DRIVE: &str = "https://drive-c.kommo.com";
pub const T0: u64 = 1_700_000_000;

pub fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0)
}

pub fn drive() -> DriveHost {
    DriveHost::new(
        BaseUrl::parse(DRIVE).unwrap(),
        AccessToken::new("secret-token").unwrap(),
    )
}

/// Deterministic test data of `len` bytes.
pub fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// What the simulated server does with the n-th request (1-based, all requests counted).
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status, body and `Retry-After`.
    Status(u16, &'static str, Option<&'static str>),
    /// The connection breaks before the server reads the body.
    ResetBefore,
    /// The server stores the part, then the connection breaks before the answer.
    ResetAfterCommit,
    /// A transport failure of this kind, nothing reaches the server.
    Transport(SendFailureKind),
    /// Answer a final file right away, whatever was received.
    EarlyFinal,
    /// Answer the final file with a wrong size.
    WrongFinalSize,
    /// Answer 200 with a body that has neither `next_url` nor `uuid`.
    NoNextUrl,
    /// Point `next_url` at another host.
    ForeignNextUrl,
    /// Answer a non-final 200 instead of 202.
    NonFinal200,
    /// Answer `next_url` even for the last part.
    MoreExpected,
    /// Process the part as usual, then answer 200 with a body that is not JSON.
    Unreadable,
}

/// How the simulated server treats a part re-sent to a URL it already answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryMode {
    Replay,
    Strict,
}

#[derive(Debug)]
pub struct FakeDrive {
    pub max_part_size: u64,
    pub max_file_size: u64,
    pub upload_host: String,
    pub retry_mode: RetryMode,
    pub faults: HashMap<usize, Fault>,
    pub requests: usize,
    /// Every request as (method, path, body length).
    pub log: Vec<(String, String, usize)>,
    sessions: HashMap<i64, SessionState>,
    next_session: i64,
    pub completed: Option<Vec<u8>>,
    /// Bytes the server received in parts, retries included.
    pub part_bytes_received: u64,
}

#[derive(Debug, Default)]
struct SessionState {
    size: u64,
    received: Vec<u8>,
    /// The part number the next URL expects.
    next_part: u64,
    /// The last accepted part: (its part number, its length, the answer given).
    last: Option<(u64, usize, Response<Bytes>)>,
    done: bool,
}

impl FakeDrive {
    pub fn new(max_part_size: u64) -> Self {
        Self {
            max_part_size,
            max_file_size: 314_572_800,
            upload_host: DRIVE.to_owned(),
            retry_mode: RetryMode::Replay,
            faults: HashMap::new(),
            requests: 0,
            log: Vec::new(),
            sessions: HashMap::new(),
            next_session: 26_136_001,
            completed: None,
            part_bytes_received: 0,
        }
    }

    pub fn fault(mut self, request_number: usize, fault: Fault) -> Self {
        self.faults.insert(request_number, fault);
        self
    }

    pub fn handle(&mut self, request: Request<Bytes>) -> Result<Response<Bytes>, SendFailure> {
        self.requests += 1;
        let fault = self.faults.get(&self.requests).cloned();
        let path = request.uri().path().to_owned();
        assert_eq!(
            request.headers()["authorization"],
            "Bearer secret-token",
            "every drive request carries the token"
        );
        assert!(
            request.uri().to_string().starts_with(DRIVE),
            "request left the drive host"
        );
        if let Some(Fault::Transport(kind)) = fault {
            return Err(SendFailure::new(kind, "simulated"));
        }
        self.log.push((
            request.method().to_string(),
            path.clone(),
            request.body().len(),
        ));
        if let Some(Fault::ResetBefore) = fault {
            return Err(SendFailure::new(SendFailureKind::Io, "connection reset"));
        }
        if let Some(Fault::Status(status, body, retry_after)) = fault {
            let mut response = respond(status, body.to_owned());
            if let Some(value) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", value.parse().unwrap());
            }
            return Ok(response);
        }
        if path == "/v1.0/sessions" {
            return Ok(self.open_session(&request));
        }
        let answer = self.part(&path, request.body(), fault.as_ref());
        if let Some(Fault::ResetAfterCommit) = fault {
            return Err(SendFailure::new(
                SendFailureKind::Io,
                "connection reset after commit",
            ));
        }
        Ok(answer)
    }

    fn open_session(&mut self, request: &Request<Bytes>) -> Response<Bytes> {
        let body: NewSession = serde_json::from_slice(request.body()).unwrap();
        let id = self.next_session;
        self.next_session += 1;
        self.sessions.insert(
            id,
            SessionState {
                size: body.file_size,
                ..Default::default()
            },
        );
        let upload_url = format!("{}/upload/{id}-1", self.upload_host);
        respond(
            200,
            format!(
                r#"{{"max_file_size":{},"max_part_size":{},"session_id":{id},"upload_url":"{upload_url}"}}"#,
                self.max_file_size, self.max_part_size
            ),
        )
    }

    fn part(&mut self, path: &str, body: &[u8], fault: Option<&Fault>) -> Response<Bytes> {
        self.part_bytes_received += body.len() as u64;
        let token = path.trim_start_matches("/upload/");
        let Some((id, part)) = token.split_once('-') else {
            return respond(404, "{}".into());
        };
        let (id, part): (i64, u64) = (id.parse().unwrap(), part.parse().unwrap());
        let retry_mode = self.retry_mode;
        let Some(session) = self.sessions.get_mut(&id) else {
            return respond(404, "{}".into());
        };
        if let Some((last_part, last_len, answer)) = &session.last {
            if *last_part == part && *last_len == body.len() && retry_mode == RetryMode::Replay {
                return answer.clone();
            }
        }
        if session.done || part != session.next_part.max(1) {
            return respond(
                404,
                r#"{"title":"Not Found","status":404,"detail":"session"}"#.into(),
            );
        }
        assert!(
            body.len() as u64 <= self.max_part_size,
            "part larger than max_part_size"
        );
        session.received.extend_from_slice(body);
        session.next_part = part + 1;
        let received = session.received.len() as u64;
        let is_final = received >= session.size;
        let next = |status: u16| {
            let url = format!("{}/upload/{id}-{}", self.upload_host, part + 1);
            respond(
                status,
                format!(r#"{{"session_id":{id},"next_url":"{url}"}}"#),
            )
        };
        let answer = match fault {
            Some(Fault::EarlyFinal) => file_response(id, received),
            Some(Fault::NoNextUrl) => respond(200, format!(r#"{{"session_id":{id}}}"#)),
            Some(Fault::ForeignNextUrl) => respond(
                202,
                format!(
                    r#"{{"session_id":{id},"next_url":"https://evil.example/upload/{id}-{}"}}"#,
                    part + 1
                ),
            ),
            Some(Fault::WrongFinalSize) if is_final => file_response(id, received + 1),
            Some(Fault::MoreExpected) => next(202),
            Some(Fault::NonFinal200) if !is_final => next(200),
            _ if !is_final => next(202),
            _ => {
                session.done = true;
                self.completed = Some(session.received.clone());
                file_response(id, received)
            }
        };
        let answer = match fault {
            Some(Fault::Unreadable) => respond(200, "<html>gateway</html>".into()),
            _ => answer,
        };
        let session = self.sessions.get_mut(&id).unwrap();
        session.last = Some((part, body.len(), answer.clone()));
        answer
    }
}

fn respond(status: u16, body: String) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    response
}

fn file_response(session_id: i64, size: u64) -> Response<Bytes> {
    respond(
        200,
        format!(
            r#"{{"id":4511234,"uuid":"367b9f38-5f01-4cea-947e-dfab47aea522","version_uuid":"43de3be7-307b-4766-a23e-5e88211b9a8d","type":"document","name":"contract","size":{size},"session_id":{session_id},"is_trashed":false,"has_multiple_versions":false}}"#
        ),
    )
}

/// The machine [`Sim::new`] builds: the simulated upload of `size` bytes.
pub fn machine(size: usize) -> UploadMachine {
    machine_with(size, UploadConfig::default())
}

fn machine_with(size: usize, config: UploadConfig) -> UploadMachine {
    UploadMachine::new(
        drive(),
        NewSession::new("contract.pdf", 0).content_type("application/pdf"),
        SourceInfo::of_size(size as u64),
        config,
        7,
    )
}

/// The machine, the fake server, simulated time, and everything that happened.
#[derive(Debug)]
pub struct Sim {
    pub machine: UploadMachine,
    pub server: FakeDrive,
    pub source: Vec<u8>,
    pub now: SystemTime,
    pub events: Vec<UploadEvent>,
    pub waits: Vec<Duration>,
    pub reads: Vec<(u64, usize)>,
    /// The request a stopped run did not send.
    pub unsent: Option<Request<Bytes>>,
    /// What [`UploadMachine::sending`] said of every request sent.
    pub sent: Vec<(UploadRequest, u32)>,
}

impl Sim {
    pub fn new(size: usize, server: FakeDrive, config: UploadConfig) -> Self {
        let source = data(size);
        let machine = machine_with(size, config);
        Self {
            machine,
            server,
            source,
            now: t0(),
            events: Vec::new(),
            waits: Vec::new(),
            reads: Vec::new(),
            unsent: None,
            sent: Vec::new(),
        }
    }

    /// Runs until the machine finishes, or `max_requests` requests were sent (to simulate a
    /// crash); `None` then.
    pub fn run_until(&mut self, max_requests: usize) -> Option<Result<FileObject, UploadError>> {
        for _ in 0..100_000 {
            self.drain_events();
            match self.machine.poll_action(self.now) {
                Action::Read { offset, len } => {
                    self.reads.push((offset, len));
                    let start = (offset as usize).min(self.source.len());
                    let end = (start + len).min(self.source.len());
                    let bytes = Bytes::copy_from_slice(&self.source[start..end]);
                    self.machine.handle_read(bytes, self.now);
                }
                Action::Send(request) => {
                    if self.server.requests >= max_requests {
                        self.unsent = Some(request);
                        return None;
                    }
                    let sending = self.machine.sending().expect("a request in flight");
                    self.sent.push(sending);
                    let answer = self.server.handle(request);
                    self.now += Duration::from_millis(10);
                    self.machine.handle_response(answer, self.now);
                    assert_eq!(self.machine.sending(), None, "answered");
                }
                Action::Wait { until } => {
                    assert!(until > self.now, "a wait must lie in the future");
                    self.waits.push(until.duration_since(self.now).unwrap());
                    self.now = until;
                }
                Action::Done(file) => {
                    self.drain_events();
                    return Some(Ok(*file));
                }
                Action::Failed(error) => {
                    self.drain_events();
                    return Some(Err(error));
                }
                other => panic!("unexpected action {other:?}"),
            }
        }
        panic!("the machine did not finish in 100000 steps");
    }

    pub fn run(&mut self) -> Result<FileObject, UploadError> {
        self.run_until(usize::MAX).expect("finished")
    }

    fn drain_events(&mut self) {
        while let Some(event) = self.machine.poll_event() {
            self.events.push(event);
        }
    }

    pub fn progress(&self) -> Vec<u64> {
        self.events
            .iter()
            .filter_map(|e| match e {
                UploadEvent::Progress { acknowledged, .. } => Some(*acknowledged),
                _ => None,
            })
            .collect()
    }

    pub fn checkpoints(&self) -> Vec<Checkpoint> {
        self.events
            .iter()
            .filter_map(|e| match e {
                UploadEvent::Checkpoint(c) => Some((**c).clone()),
                _ => None,
            })
            .collect()
    }

    pub fn restarts(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, UploadEvent::Restarted { .. }))
            .count()
    }
}
