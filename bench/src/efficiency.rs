//! Scenario 3, request efficiency: an upload costs `ceil(size / part) + 1` requests (the
//! emulator's log says so), and `k` dropped connections cost at most `k` parts sent again
//! (the bytes the client handed its transport say so).

use kommo_files::UploadOptions;
use kommo_files_emulator::{EmulatorHandle, Fault, FaultAction, HostKind};

use crate::counting::{CountingReqwest, CountingUreq, Tally};
use crate::fixture::{self, TestFile, Workdir, KIB, MIB};
use crate::report::{Check, Section, Table};
use crate::BenchResult;

#[derive(Debug, Clone)]
pub struct Settings {
    pub size: u64,
    pub part: u64,
    pub drops: Vec<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    Blocking,
    Async,
}

impl Client {
    const BOTH: [Client; 2] = [Client::Blocking, Client::Async];

    fn label(self) -> &'static str {
        match self {
            Client::Blocking => "blocking",
            Client::Async => "async",
        }
    }
}

/// One upload's cost.
struct Cost {
    upload_requests: usize,
    part_bytes_sent: u64,
    bytes_received: u64,
}

pub fn run(
    settings: &Settings,
    runtime: &tokio::runtime::Runtime,
    work: &Workdir,
) -> BenchResult<Section> {
    let part = settings.part;
    let mut section = Section::new(
        "3. Request efficiency",
        &format!(
            "Upload requests counted in the emulator's log (the session plus one per part; the \
             drive discovery happens once per client and is not counted). Then a {} MiB upload \
             with `k` connections dropped at parts spread over the file, alternately before \
             the server reads the part and after it stored it without answering: bytes re-sent \
             are the part bytes the client handed its transport beyond the file's size. Every \
             upload is checked against the source's SHA-256.",
            settings.size / MIB
        ),
    );

    let mut counts = Table::new(&["file size", "expected", "blocking", "async"]);
    let sizes = [1, part - 1, part, part + 1, 3 * part + 7, settings.size];
    for (index, size) in sizes.iter().enumerate() {
        let file = TestFile::create(
            work.path().join(format!("count-{index}.bin")),
            *size,
            10 + index as u64,
        )?;
        let expected = file.expected_upload_requests(part);
        let mut row = vec![format!("{size} B"), expected.to_string()];
        for client in Client::BOTH {
            let cost = upload(client, &file, part, 0, runtime)?;
            row.push(cost.upload_requests.to_string());
            section.checks.push(Check::new(
                format!(
                    "{} client, {size} B: {} requests, expected {expected}",
                    client.label(),
                    cost.upload_requests
                ),
                cost.upload_requests == expected,
            ));
        }
        counts.row(row);
    }
    section.tables.push(counts);

    let file = TestFile::create(work.path().join("drops.bin"), settings.size, 20)?;
    let mut drops = Table::new(&[
        "client",
        "dropped connections k",
        "upload requests",
        "part bytes sent",
        "re-sent",
        "bound k × part",
        "bytes the emulator read (parts and session)",
    ]);
    for client in Client::BOTH {
        for k in &settings.drops {
            let cost = upload(client, &file, part, *k, runtime)?;
            let resent = cost.part_bytes_sent.saturating_sub(file.size);
            let bound = u64::from(*k) * part;
            drops.row(vec![
                client.label().to_owned(),
                k.to_string(),
                cost.upload_requests.to_string(),
                cost.part_bytes_sent.to_string(),
                format!("{} KiB", resent / KIB),
                format!("{} KiB", bound / KIB),
                cost.bytes_received.to_string(),
            ]);
            section.checks.push(Check::new(
                format!(
                    "{} client, k = {k}: re-sent {} KiB ≤ {} KiB",
                    client.label(),
                    resent / KIB,
                    bound / KIB
                ),
                resent <= bound,
            ));
        }
    }
    section.tables.push(drops);
    Ok(section)
}

/// Uploads `file` through `client` with `drops` injected connection drops.
fn upload(
    client: Client,
    file: &TestFile,
    part: u64,
    drops: u32,
    runtime: &tokio::runtime::Runtime,
) -> BenchResult<Cost> {
    let emulator = fixture::emulator_for(file, part)?;
    inject_drops(&emulator, file.size.div_ceil(part), drops);
    let config = fixture::client_config(&emulator, false)?;
    let (uuid, tally): (String, std::sync::Arc<Tally>) = match client {
        Client::Blocking => {
            let transport = CountingUreq::new();
            let tally = transport.tally.clone();
            let client = kommo_files::blocking::Client::with_transport(config, transport);
            (
                client.upload_path(&file.path, UploadOptions::new())?.uuid,
                tally,
            )
        }
        Client::Async => runtime.block_on(async {
            let transport = CountingReqwest::new()?;
            let tally = transport.tally.clone();
            let client = kommo_files::Client::with_transport(config, transport);
            let uuid = client
                .upload_path(&file.path, UploadOptions::new())
                .await?
                .uuid;
            BenchResult::Ok((uuid, tally))
        })?,
    };
    fixture::verify_stored(&emulator, &uuid, file)?;
    let records = emulator.requests();
    let uploads: Vec<_> = records
        .iter()
        .filter(|r| fixture::is_upload_request(r))
        .collect();
    let fired = emulator.faults().iter().filter(|f| f.fired > 0).count();
    if fired != drops as usize {
        return Err(format!("{fired} of {drops} injected drops fired").into());
    }
    Ok(Cost {
        upload_requests: uploads.len(),
        part_bytes_sent: tally.part_bytes(),
        bytes_received: uploads.iter().map(|r| r.bytes_in).sum(),
    })
}

/// `drops` connection drops on part requests spread evenly over `parts` parts, alternating a
/// drop before the body is read and one after the part was stored.
fn inject_drops(emulator: &EmulatorHandle, parts: u64, drops: u32) {
    for index in 0..drops {
        let nth = (u64::from(index) + 1) * parts / (u64::from(drops) + 1);
        let action = if index % 2 == 0 {
            FaultAction::CloseBeforeBody
        } else {
            FaultAction::CloseAfterCommit
        };
        emulator.add_fault(
            Fault::new(action)
                .host(HostKind::Drive)
                .method("POST")
                .path("*/upload/*")
                .nth(u32::try_from(nth.max(1)).unwrap_or(u32::MAX)),
        );
    }
}
