//! The `tracing` feature: a capturing subscriber (a `tracing-subscriber` layer that keeps every
//! span and event of target `kommo_files` with its fields and its spans) watches an upload
//! through a 503 on the session, a 429 with `Retry-After` on part 2 and a lost answer on
//! part 3, then a download, and a token refresh of each reason; the spans and events carry
//! the attempt, part, bytes, status, retry delay and pacing wait, and no captured text holds
//! the token or an upload URL's signed segment.
//!
//! The subscriber is the test thread's default (the async tests run on a current-thread
//! runtime), so tests running at once do not see each other's events. Nothing here depends on
//! timing: the pacing wait comes from a rate budget that always asks for 5 ms.
#![cfg(all(feature = "tracing", feature = "ureq", feature = "reqwest"))]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kommo_files::auth::Credentials;
use kommo_files::model::retry::RetryPolicy;
use kommo_files::oauth::{OAuthApp, RefreshToken, TokenSet};
use kommo_files::{AccessToken, ClientConfig, RateBudget, UploadEvent, UploadOptions};
use kommo_files_emulator::{
    Emulator, EmulatorBuilder, EmulatorHandle, Fault, FaultAction, Integration, Scope,
};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

const TOKEN: &str = "tracing-secret-token-4b8e21";
const PART: u64 = 64 * 1024;
const CLIENT_ID: &str = "tracing-oauth-client";
const SECRET: &str = "tracing-oauth-secret-93c0";
const REDIRECT: &str = "https://integration.example/oauth/callback";

// ---- the capturing subscriber

/// One span (as opened, or as a later `record`) or one event.
#[derive(Debug, Clone)]
struct Captured {
    /// `span`, `record` or `event`.
    kind: &'static str,
    /// The span's name, or the event's message.
    name: String,
    level: tracing::Level,
    fields: BTreeMap<String, String>,
    /// The names of the spans the event is in, outermost first (for an event).
    scope: Vec<String>,
    /// The fields of those spans, merged (inner spans win).
    scope_fields: BTreeMap<String, String>,
}

impl Captured {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    fn number(&self, name: &str) -> Option<u64> {
        self.field(name).and_then(|value| value.parse().ok())
    }
}

/// The fields of a span or event, as text (`Debug` for what is neither a number nor a string).
#[derive(Debug, Default, Clone)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }
}

/// Everything of target `kommo_files`, in order.
#[derive(Debug, Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

impl Capture {
    /// Makes this capture the current thread's subscriber until the guard is dropped.
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let subscriber = tracing_subscriber::registry().with(self.clone());
        tracing::subscriber::set_default(subscriber)
    }

    fn all(&self) -> Vec<Captured> {
        self.0.lock().unwrap().clone()
    }

    fn events(&self) -> Vec<Captured> {
        self.all()
            .into_iter()
            .filter(|c| c.kind == "event")
            .collect()
    }

    /// Every event called `message` whose fields include all of `fields`.
    fn find(&self, message: &str, fields: &[(&str, &str)]) -> Vec<Captured> {
        self.events()
            .into_iter()
            .filter(|e| e.name == message)
            .filter(|e| fields.iter().all(|(k, v)| e.field(k) == Some(v)))
            .collect()
    }

    /// The one event [`Capture::find`] finds; panics with the whole capture otherwise.
    #[track_caller]
    fn one(&self, message: &str, fields: &[(&str, &str)]) -> Captured {
        let found = self.find(message, fields);
        assert_eq!(
            found.len(),
            1,
            "one {message:?} with {fields:?}; captured:\n{}",
            self.dump()
        );
        found.into_iter().next().unwrap()
    }

    /// Every captured text: names, fields, scopes.
    fn dump(&self) -> String {
        self.all()
            .iter()
            .map(|c| {
                format!(
                    "{} {} {} {:?} in {:?} {:?}",
                    c.kind, c.level, c.name, c.fields, c.scope, c.scope_fields
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// No captured text holds any of `secrets`.
    #[track_caller]
    fn assert_hidden(&self, secrets: &[&str]) {
        let dump = self.dump();
        for secret in secrets {
            assert!(!secret.is_empty());
            assert!(!dump.contains(secret), "{secret:?} was recorded:\n{dump}");
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().target() != "kommo_files" {
            return;
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields.clone());
        }
        self.0.lock().unwrap().push(Captured {
            kind: "span",
            name: attrs.metadata().name().to_owned(),
            level: *attrs.metadata().level(),
            fields: fields.0,
            scope: Vec::new(),
            scope_fields: BTreeMap::new(),
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if span.metadata().target() != "kommo_files" {
            return;
        }
        let mut recorded = Fields::default();
        values.record(&mut recorded);
        if let Some(fields) = span.extensions_mut().get_mut::<Fields>() {
            fields.0.extend(recorded.0.clone());
        }
        self.0.lock().unwrap().push(Captured {
            kind: "record",
            name: span.name().to_owned(),
            level: *span.metadata().level(),
            fields: recorded.0,
            scope: Vec::new(),
            scope_fields: BTreeMap::new(),
        });
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != "kommo_files" {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let message = fields.0.remove("message").unwrap_or_default();
        let mut scope = Vec::new();
        let mut scope_fields = BTreeMap::new();
        if let Some(spans) = ctx.event_scope(event) {
            for span in spans.from_root() {
                scope.push(span.name().to_owned());
                if let Some(fields) = span.extensions().get::<Fields>() {
                    scope_fields.extend(fields.0.clone());
                }
            }
        }
        self.0.lock().unwrap().push(Captured {
            kind: "event",
            name: message,
            level: *event.metadata().level(),
            fields: fields.0,
            scope,
            scope_fields,
        });
    }
}

// ---- the setup

/// A budget that always asks for 5 ms: a pacing wait in every request, whatever the timing.
#[derive(Debug)]
struct FiveMillis;

impl RateBudget for FiveMillis {
    fn acquire(&self) -> Duration {
        Duration::from_millis(5)
    }

    fn throttled(&self) {}

    fn answered(&self) {}
}

fn emulator_builder() -> EmulatorBuilder {
    Emulator::builder()
        .token(TOKEN, Scope::ALL)
        .max_part_size(PART)
        .rate_limit(None)
        .integration(Integration::new(CLIENT_ID, SECRET, REDIRECT))
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy::default().delays(Duration::from_millis(10), Duration::from_millis(50))
}

fn config(emulator: &EmulatorHandle) -> ClientConfig {
    ClientConfig::for_url(emulator.account_url(), TOKEN)
        .unwrap()
        .retry(fast_retry())
        .rate_budget(Arc::new(FiveMillis))
}

/// A 503 on the session, a 429 with `Retry-After: 1` on part 2, a lost answer on part 3 (of
/// four: a middle one, so it is simply sent again).
fn add_faults(emulator: &EmulatorHandle) {
    let status = |status| FaultAction::Status {
        status,
        body: None,
        content_type: None,
    };
    emulator.add_fault(
        Fault::new(status(503))
            .method("POST")
            .path("/v1.0/sessions")
            .nth(1),
    );
    let throttled = FaultAction::RetryAfter {
        status: 429,
        seconds: 1,
    };
    emulator.add_fault(
        Fault::new(throttled)
            .method("POST")
            .path("/upload/*")
            .nth(2),
    );
    let lost = FaultAction::CloseAfterCommit;
    // The fourth part request: part 3 (part 2 was sent twice).
    emulator.add_fault(Fault::new(lost).method("POST").path("/upload/*").nth(4));
}

fn data(len: u64) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 251) as u8).collect()
}

/// Options that keep the signed segment of every upload URL the checkpoints show.
fn options_keeping_urls(urls: &Arc<Mutex<Vec<String>>>) -> UploadOptions {
    let urls = urls.clone();
    UploadOptions::new().on_event(move |event| {
        if let UploadEvent::Checkpoint(checkpoint) = event {
            urls.lock().unwrap().push(checkpoint.next_url.clone());
        }
    })
}

/// The secret segments of upload URLs (everything after `/upload/`).
fn signed_segments(urls: &[String]) -> Vec<String> {
    let segments: Vec<String> = urls
        .iter()
        .filter_map(|url| url.split_once("/upload/").map(|(_, rest)| rest.to_owned()))
        .collect();
    assert!(!segments.is_empty(), "checkpoints showed the upload URLs");
    segments
}

/// What both flavours' uploads must have told.
fn assert_upload_traced(
    capture: &Capture,
    emulator: &EmulatorHandle,
    file_uuid: &str,
    urls: &[String],
) {
    // The upload's span, with the file and its size.
    let spans: Vec<_> = capture
        .all()
        .into_iter()
        .filter(|c| c.kind == "span" && c.name == "upload")
        .collect();
    assert_eq!(spans.len(), 1, "{}", capture.dump());
    assert_eq!(spans[0].field("file"), Some("traced.bin"));
    assert_eq!(spans[0].number("size"), Some(4 * PART));
    assert_eq!(spans[0].field("resumed"), Some("false"));

    // The drive discovery: a call span named after its operation, inside the upload.
    let discovery = capture.one("answered", &[("operation", "discover_drive")]);
    assert_eq!(discovery.scope, ["upload", "call"]);
    assert_eq!(
        discovery.scope_fields.get("operation").map(String::as_str),
        Some("discover_drive")
    );
    assert_eq!(discovery.number("status"), Some(200));

    // The session: 503 on attempt 1, retried with a delay, answered on attempt 2.
    let refused = capture.one(
        "answered",
        &[("operation", "create_session"), ("attempt", "1")],
    );
    assert_eq!(refused.number("status"), Some(503));
    assert_eq!(refused.level, tracing::Level::INFO);
    let retry = capture.one(
        "retrying",
        &[("operation", "create_session"), ("attempt", "1")],
    );
    assert!(retry.number("delay_ms").is_some(), "{retry:?}");
    let opened = capture.one(
        "answered",
        &[("operation", "create_session"), ("attempt", "2")],
    );
    assert!(matches!(opened.number("status"), Some(200..=299)));

    // Part 2: 429 with Retry-After: 1, so a retry delay of exactly 1 s, then accepted.
    let throttled = capture.one("answered", &[("part", "2"), ("attempt", "1")]);
    assert_eq!(throttled.field("operation"), Some("upload_part"));
    assert_eq!(throttled.number("status"), Some(429));
    assert_eq!(throttled.number("bytes"), Some(PART));
    let retry = capture.one("retrying", &[("part", "2")]);
    assert_eq!(retry.number("delay_ms"), Some(1000), "{retry:?}");
    assert_eq!(retry.number("attempt"), Some(1));
    let accepted = capture.one("answered", &[("part", "2"), ("attempt", "2")]);
    assert!(matches!(accepted.number("status"), Some(200..=299)));

    // Part 3: no answer (the connection closed), retried.
    let lost = capture.one("no answer", &[("part", "3"), ("attempt", "1")]);
    assert!(lost.field("error").is_some(), "{lost:?}");
    assert!(lost.field("status").is_none());
    capture.one("retrying", &[("part", "3")]);
    let last = capture.one("answered", &[("part", "3"), ("attempt", "2")]);
    assert!(matches!(last.number("status"), Some(200..=299)));
    assert_eq!(last.number("bytes"), Some(PART));

    // Pacing: every request waited for its 5 ms slot.
    let paced = capture.find("paced", &[("wait_ms", "5")]);
    assert!(paced.len() >= 6, "{}", capture.dump());

    // The session and the result.
    capture.one("upload session opened", &[]);
    capture.one("upload completed", &[("file_uuid", file_uuid)]);

    // Every event of the upload is in its span.
    for event in capture.events() {
        if event.scope.first().map(String::as_str) != Some("download") {
            assert_eq!(
                event.scope.first().map(String::as_str),
                Some("upload"),
                "{event:?}"
            );
        }
    }

    // No token, no signed upload URL segment, anywhere.
    let mut secrets = vec![TOKEN.to_owned(), emulator.token()];
    secrets.extend(signed_segments(urls));
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    capture.assert_hidden(&secrets);
}

/// The download's span shows its URL redacted, and its request is in it.
fn assert_download_traced(capture: &Capture) {
    let span = capture
        .all()
        .into_iter()
        .find(|c| c.kind == "span" && c.name == "download")
        .unwrap_or_else(|| panic!("a download span:\n{}", capture.dump()));
    let url = span.field("url").unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    // The emulator redirects a download to its storage path: two hops, both in the span.
    let hops = capture.find("answered", &[("operation", "download")]);
    assert_eq!(hops.len(), 2, "{}", capture.dump());
    assert!(hops.iter().all(|hop| hop.scope == ["download"]), "{hops:?}");
    assert_eq!(hops[1].number("status"), Some(200));
}

// ---- uploads, both flavours

#[test]
fn blocking_upload_is_traced() {
    let capture = Capture::default();
    let _guard = capture.install();
    let emulator = emulator_builder().start().unwrap();
    add_faults(&emulator);
    let client = kommo_files::blocking::Client::new(config(&emulator)).unwrap();
    let urls = Arc::new(Mutex::new(Vec::new()));
    let bytes = data(4 * PART);
    let file = client
        .upload_bytes("traced.bin", bytes.clone(), options_keeping_urls(&urls))
        .unwrap();
    assert!(
        tracing::Span::current().is_none(),
        "no span is left entered"
    );
    assert_upload_traced(&capture, &emulator, &file.uuid, &urls.lock().unwrap());

    let mut copy = Vec::new();
    client.download(&file, &mut copy).unwrap();
    assert_eq!(copy, bytes);
    assert_download_traced(&capture);
}

#[tokio::test(flavor = "current_thread")]
async fn async_upload_is_traced() {
    let capture = Capture::default();
    let _guard = capture.install();
    let emulator = emulator_builder().start_async().await.unwrap();
    add_faults(&emulator);
    let client = kommo_files::Client::new(config(&emulator)).unwrap();
    let urls = Arc::new(Mutex::new(Vec::new()));
    let bytes = data(4 * PART);
    let file = client
        .upload_bytes("traced.bin", bytes.clone(), options_keeping_urls(&urls))
        .await
        .unwrap();
    assert!(
        tracing::Span::current().is_none(),
        "no span is left entered"
    );
    let urls = urls.lock().unwrap().clone();
    assert_upload_traced(&capture, &emulator, &file.uuid, &urls);

    let mut copy = Vec::new();
    client.download(&file, &mut copy).await.unwrap();
    assert_eq!(copy, bytes);
    assert_download_traced(&capture);
}

/// Two uploads at once on one thread: each one's events are in its own span (an async span is
/// entered only while its future is polled, never across an `.await`).
#[tokio::test(flavor = "current_thread")]
async fn async_uploads_at_once_keep_their_spans_apart() {
    let capture = Capture::default();
    let _guard = capture.install();
    let emulator = emulator_builder().start_async().await.unwrap();
    let client = kommo_files::Client::new(config(&emulator)).unwrap();
    client.drive().await.unwrap();
    let first = client.upload_bytes("first.bin", data(3 * PART), UploadOptions::new());
    let second = client.upload_bytes("second.bin", data(2 * PART), UploadOptions::new());
    let (first, second) = tokio::join!(first, second);
    let (first, second) = (first.unwrap(), second.unwrap());
    for (file, name, parts) in [(&first, "first.bin", 3), (&second, "second.bin", 2)] {
        let completed = capture.one("upload completed", &[("file_uuid", &file.uuid)]);
        assert_eq!(
            completed.scope_fields.get("file").map(String::as_str),
            Some(name)
        );
        let own_parts = capture
            .find("answered", &[("operation", "upload_part")])
            .into_iter()
            .filter(|e| e.scope_fields.get("file").map(String::as_str) == Some(name))
            .count();
        assert_eq!(own_parts, parts, "{}", capture.dump());
    }
}

// ---- token refresh

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A refresh of `reason` with the issued pair expiring (for the client) at `expires_at`, the
/// server's clock moved by `advance`; checks the refresh span and that no token is recorded.
fn refresh_is_traced(reason: &str, expires_at: i64, advance: Duration) {
    let capture = Capture::default();
    let _guard = capture.install();
    let emulator = emulator_builder().start().unwrap();
    let issued = emulator.issue_tokens(CLIENT_ID);
    emulator.advance_clock(advance);
    let set = TokenSet::new(
        AccessToken::new(&issued.access_token).unwrap(),
        Some(RefreshToken::new(&issued.refresh_token)),
        Some(expires_at),
    );
    let credentials = Credentials::oauth(OAuthApp::new(CLIENT_ID, SECRET, REDIRECT), set);
    let config = ClientConfig::with_credentials(emulator.account_url(), credentials.clone())
        .unwrap()
        .retry(fast_retry())
        .requests_per_second(None);
    let client = kommo_files::blocking::Client::new(config).unwrap();
    assert!(client.get_file("no-such-file").unwrap().is_none());

    let span = capture
        .all()
        .into_iter()
        .find(|c| c.kind == "span" && c.name == "token_refresh")
        .unwrap_or_else(|| panic!("a refresh span:\n{}", capture.dump()));
    assert_eq!(span.field("reason"), Some(reason));
    let recorded = capture
        .all()
        .into_iter()
        .find(|c| c.kind == "record" && c.name == "token_refresh")
        .unwrap_or_else(|| panic!("the refresh's outcome:\n{}", capture.dump()));
    assert_eq!(recorded.field("outcome"), Some("saved"));
    let refreshed = capture.one("token refreshed", &[("outcome", "saved")]);
    assert_eq!(
        refreshed.scope.last().map(String::as_str),
        Some("token_refresh")
    );
    let grant = capture.one("answered", &[("operation", "refresh_token")]);
    assert_eq!(grant.number("status"), Some(200));
    let rejections = capture.find("token rejected; replaying with a new one", &[]);
    assert_eq!(rejections.len(), usize::from(reason == "rejected"));

    let fresh = credentials.tokens();
    let fresh_refresh = fresh.refresh().unwrap().expose().to_owned();
    assert_ne!(fresh.access().expose(), issued.access_token);
    capture.assert_hidden(&[
        &issued.access_token,
        &issued.refresh_token,
        fresh.access().expose(),
        &fresh_refresh,
        SECRET,
    ]);
}

#[test]
fn a_refresh_ahead_of_expiry_is_traced() {
    refresh_is_traced("expiring", now() - 1, Duration::ZERO);
}

#[test]
fn a_refresh_after_a_401_is_traced() {
    refresh_is_traced("rejected", now() + 86_400, Duration::from_secs(86_400 + 60));
}
