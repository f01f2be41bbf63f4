//! A schedule: one upload, the client that makes it, the emulator's switches, the faults, and
//! the clock jumps and kills around it, all drawn from one seed.

use std::fmt;

use kommo_files_emulator::{Fault, FaultAction, HostKind, PartStatus, RetryMode, UploadUrlShape};

use crate::rng::Rng;

/// The part size the emulator announces: a few parts make a multi-part upload in a few ms.
pub const PART: u64 = 64 * 1024;

/// How far a clock jump moves the emulator: past a session's 24 hours.
pub const JUMP_SECS: u64 = 25 * 3600;

/// Which client makes the upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    Blocking,
    Async,
    Cli,
}

impl ClientKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Blocking => "blocking",
            Self::Async => "async",
            Self::Cli => "cli",
        }
    }
}

/// When the emulator's clock jumps [`JUMP_SECS`] ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockJump {
    None,
    /// During the first run, once this many bytes were acknowledged (SDK clients only).
    MidUpload {
        acknowledged: u64,
    },
    /// After the first run that failed or was killed, before the next one.
    BetweenRuns,
}

/// How the first run is stopped: `kill -9` for the CLI, the future dropped for the async
/// client (what a crashed service leaves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kill {
    None,
    /// This many ms after the run started.
    AtRandom {
        after_ms: u64,
    },
    /// While the last part is in flight: a `delay` fault holds it `delay_ms` before the
    /// emulator reads it, and the kill comes `after_ms` after the fault fired. With `settle`,
    /// the next run waits until the held part has landed.
    LastPartInFlight {
        delay_ms: u64,
        after_ms: u64,
        settle: bool,
    },
}

/// What the SDK uploads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Path,
    Bytes,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    pub seed: u64,
    pub client: ClientKind,
    pub source: Source,
    pub retry_mode: RetryMode,
    pub url_shape: UploadUrlShape,
    pub part_status: PartStatus,
    pub size: u64,
    /// An older file of the same name and size with other bytes, uploaded before.
    pub namesake: bool,
    pub faults: Vec<Fault>,
    /// Runs made with the faults on (the first included) before they are cleared.
    pub faulty_runs: u32,
    pub clock: ClockJump,
    pub kill: Kill,
    /// A short read timeout for the SDK client, with a delay longer than it.
    pub read_timeout_ms: Option<u64>,
}

/// Knobs of the mix.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    /// Share of schedules run through the CLI (0 when no CLI binary is given).
    pub cli_share: f64,
    /// Share of CLI and async schedules whose first run is killed.
    pub kill_share: f64,
}

const STATUSES: &[u16] = &[408, 429, 500, 502, 503, 504, 400, 401, 403, 404];

impl Schedule {
    pub fn parts(&self) -> u64 {
        self.size.div_ceil(PART).max(1)
    }

    pub fn generate(seed: u64, mix: Mix) -> Self {
        let mut rng = Rng::new(seed);
        let client = if rng.chance(mix.cli_share) {
            ClientKind::Cli
        } else if rng.chance(0.5) {
            ClientKind::Blocking
        } else {
            ClientKind::Async
        };
        let size = match rng.below(10) {
            0 if rng.chance(0.3) => 0,
            0 | 1 => rng.range(1, PART),
            2 | 3 => PART * rng.range(1, 4),
            _ => rng.range(PART + 1, 4 * PART),
        };
        let mut schedule = Schedule {
            seed,
            client,
            source: if client != ClientKind::Cli && rng.chance(0.3) {
                Source::Bytes
            } else {
                Source::Path
            },
            retry_mode: if rng.chance(0.5) {
                RetryMode::Replay
            } else {
                RetryMode::Strict
            },
            url_shape: if rng.chance(0.5) {
                UploadUrlShape::Upload
            } else {
                UploadUrlShape::Sessions
            },
            part_status: if rng.chance(0.7) {
                PartStatus::Accepted202
            } else {
                PartStatus::Ok200
            },
            size,
            namesake: size > 0 && rng.chance(0.3),
            faults: Vec::new(),
            faulty_runs: rng.range(1, 2) as u32,
            clock: ClockJump::None,
            kill: Kill::None,
            read_timeout_ms: None,
        };
        let parts = schedule.parts();
        let sdk = client != ClientKind::Cli;
        // A kill while the last part is in flight keeps the other faults off the parts, so
        // that the held request is the last part.
        if client != ClientKind::Blocking && rng.chance(mix.kill_share) {
            schedule.kill = if rng.chance(0.5) {
                let delay_ms = 700;
                Kill::LastPartInFlight {
                    delay_ms,
                    after_ms: rng.below(delay_ms - 100),
                    settle: rng.chance(0.5),
                }
            } else {
                Kill::AtRandom {
                    after_ms: if sdk { rng.below(40) } else { rng.below(250) },
                }
            };
        }
        let parts_free = !matches!(schedule.kill, Kill::LastPartInFlight { .. });
        for _ in 0..rng.range(1, 3) {
            let fault = random_fault(&mut rng, parts, sdk, parts_free);
            schedule.faults.push(fault);
        }
        if let Kill::LastPartInFlight { delay_ms, .. } = schedule.kill {
            schedule.faults.push(
                Fault::new(FaultAction::Delay { millis: delay_ms })
                    .method("POST")
                    .path("*/upload/*")
                    .nth(parts as u32),
            );
        }
        schedule.clock = match rng.below(10) {
            0 | 1 if sdk && parts > 1 && parts_free => ClockJump::MidUpload {
                acknowledged: PART * rng.range(1, parts - 1),
            },
            2 | 3 => ClockJump::BetweenRuns,
            _ => ClockJump::None,
        };
        if sdk && parts_free && rng.chance(0.1) {
            schedule.read_timeout_ms = Some(300);
            schedule.faults.push(
                Fault::new(FaultAction::Delay { millis: 600 })
                    .method("POST")
                    .path("*/upload/*")
                    .nth(rng.range(1, parts) as u32),
            );
        }
        schedule
    }
}

/// One fault on a part, the session or an API call the upload (or its recovery) makes.
fn random_fault(rng: &mut Rng, parts: u64, sdk: bool, parts_free: bool) -> Fault {
    let action = match rng.below(9) {
        0 => FaultAction::Status {
            status: rng.pick(STATUSES),
            body: None,
            content_type: None,
        },
        1 => FaultAction::Delay {
            millis: rng.range(10, 200),
        },
        2 => FaultAction::CloseBeforeBody,
        3 => FaultAction::CloseAfterCommit,
        4 => FaultAction::TruncatedBody,
        5 => FaultAction::GarbageAfterCommit,
        6 => FaultAction::NonJsonBody {
            status: rng.pick(&[200, 500, 502]),
        },
        7 => FaultAction::HtmlError {
            status: rng.pick(&[500, 502, 503, 403]),
        },
        _ => FaultAction::RetryAfter {
            status: rng.pick(&[429, 503]),
            seconds: if rng.chance(0.2) { 1 } else { 0 },
        },
    };
    let fault = match rng.below(10) {
        0..=5 if parts_free => {
            // Often the last part, where a lost answer is ambiguous.
            let nth = if rng.chance(0.4) {
                parts
            } else {
                rng.range(1, parts + 1)
            };
            Fault::new(action)
                .method("POST")
                .path("*/upload/*")
                .nth(nth as u32)
        }
        0..=6 => Fault::new(action)
            .method("POST")
            .path("/v1.0/sessions")
            .nth(rng.range(1, 2) as u32),
        7 => Fault::new(action)
            .host(HostKind::Account)
            .method("GET")
            .path("/api/v4/account"),
        8 => Fault::new(action)
            .method("GET")
            .path("/v1.0/files")
            .nth(rng.range(1, 2) as u32),
        _ => Fault::new(action).method("GET").path(if rng.chance(0.5) {
            "/download/*"
        } else {
            "/storage/*"
        }),
    };
    // Every occurrence makes the faulty runs fail for good (or slow); only the SDK runs, whose
    // retries wait milliseconds, get them.
    if sdk && rng.chance(0.08) {
        fault.every()
    } else {
        fault
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {} {} {:?} {:?} {:?} parts:{:?} size {} ({} parts){}, {} faulty run(s), clock {:?}, kill {:?}",
            self.seed,
            self.client.name(),
            self.source,
            self.retry_mode,
            self.url_shape,
            self.part_status,
            self.size,
            self.parts(),
            if self.namesake { ", namesake" } else { "" },
            self.faulty_runs,
            self.clock,
            self.kill,
        )?;
        if let Some(ms) = self.read_timeout_ms {
            write!(f, ", read timeout {ms} ms")?;
        }
        for fault in &self.faults {
            write!(
                f,
                "\n    fault {} {} {:?} {:?}",
                fault.method.as_deref().unwrap_or("*"),
                fault.path,
                fault.occurrence,
                fault.action
            )?;
        }
        Ok(())
    }
}
