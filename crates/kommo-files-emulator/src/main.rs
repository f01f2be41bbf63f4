//! `kommo-files-emulator`: runs the emulator until Ctrl-C.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use kommo_files_emulator::{
    AttachStatus, DeleteStatus, DownloadStatus, Emulator, Integration, MissingFileStatus,
    PartStatus, RetryMode, TokenGrant, UploadUrlShape, DEFAULT_MAX_FILE_SIZE,
    DEFAULT_MAX_PART_SIZE,
};

/// A local Kommo (amoCRM) Files API server: account host + drive host, with fault injection.
#[derive(Debug, Parser)]
#[command(name = "kommo-files-emulator", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Port of the account host (/api/v4/...); 0 picks a free port.
    #[arg(long, default_value_t = 0)]
    account_port: u16,
    /// Port of the drive host (/v1.0/..., uploads, downloads); 0 picks a free port.
    #[arg(long, default_value_t = 0)]
    drive_port: u16,
    /// Keep file bytes and state here, so they survive a restart (default: in memory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Accepted token as TOKEN or TOKEN:scope,scope (scopes: crm, files, files_delete;
    /// none = all). Repeatable. Default: `emulator-token` with all scopes.
    #[arg(long = "token", value_name = "TOKEN[:SCOPES]", value_parser = TokenGrant::parse_flag)]
    tokens: Vec<TokenGrant>,
    /// OAuth integration as CLIENT_ID,CLIENT_SECRET,REDIRECT_URI (split on the first two
    /// commas, so the URI may hold `:` and further commas). Repeatable. Its users consent at
    /// GET /oauth?client_id=..&state=.. (approved at once, 302 to the redirect URI with code,
    /// state and referer); its server gets tokens at POST /oauth2/access_token.
    #[arg(
        long = "integration",
        value_name = "CLIENT_ID,CLIENT_SECRET,REDIRECT_URI",
        value_parser = Integration::parse_flag
    )]
    integrations: Vec<Integration>,
    /// Token answers of POST /oauth2/access_token without `server_time`.
    #[arg(long)]
    no_server_time: bool,
    /// Serve HTTPS on both listeners, with a CA and certificate (127.0.0.1, ::1, localhost)
    /// made at start; the CA certificate is written to a file, printed as `ca_certificate:`.
    #[arg(long)]
    tls: bool,
    /// Where --tls writes the CA certificate (PEM). Default: DATA_DIR/ca.pem, or else a file in
    /// the temp directory, removed on exit.
    #[arg(long, value_name = "PATH", requires = "tls")]
    tls_ca_path: Option<PathBuf>,
    /// max_part_size in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_PART_SIZE)]
    max_part_size: u64,
    /// max_file_size in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_FILE_SIZE)]
    max_file_size: u64,
    /// Rate limit per token in requests per second (429 beyond); without a value: 7.
    #[arg(long, value_name = "PER_SECOND", num_args = 0..=1, default_missing_value = "7")]
    rate_limit: Option<u32>,
    /// Behave as a blocked account: 403 with an HTML page on every request.
    #[arg(long)]
    blocked: bool,
    /// Milliseconds added before every API answer, standing for a real network's round trip.
    #[arg(long, value_name = "MILLIS", default_value_t = 0)]
    latency_ms: u64,
    /// Status of non-final upload parts.
    #[arg(long, value_enum, default_value_t = PartArg::S202)]
    part_status: PartArg,
    /// Success status of DELETE /v1.0/files (204, or 200 with `{}`).
    #[arg(long, value_enum, default_value_t = DeleteArg::S204)]
    delete_status: DeleteArg,
    /// Success status of attaching/detaching entity files (202, or 200 with `{}`).
    #[arg(long, value_enum, default_value_t = AttachArg::S202)]
    attach_status: AttachArg,
    /// Answer of GET /v1.0/files/{uuid} for an unknown file.
    #[arg(long, value_enum, default_value_t = MissingArg::S404)]
    missing_file_status: MissingArg,
    /// What a repeated last part gets: replayed answer, or 404.
    #[arg(long, value_enum, default_value_t = RetryArg::Replay)]
    retry_mode: RetryArg,
    /// How download links answer: 301 to the storage URL (observed live), or 200 with the bytes.
    #[arg(long, value_enum, default_value_t = DownloadArg::S301)]
    download_status: DownloadArg,
    /// Upload URL shape handed out: /upload/{t} or /v1.0/sessions/upload/{t} (both are served).
    #[arg(long, value_enum, default_value_t = ShapeArg::Upload)]
    upload_url_shape: ShapeArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PartArg {
    #[value(name = "202")]
    S202,
    #[value(name = "200")]
    S200,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DeleteArg {
    #[value(name = "204")]
    S204,
    #[value(name = "200")]
    S200,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum AttachArg {
    #[value(name = "202")]
    S202,
    #[value(name = "200")]
    S200,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum MissingArg {
    #[value(name = "404")]
    S404,
    #[value(name = "204")]
    S204,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RetryArg {
    Replay,
    Strict,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DownloadArg {
    #[value(name = "301")]
    S301,
    #[value(name = "200")]
    S200,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ShapeArg {
    Upload,
    Sessions,
}

fn builder(args: Args) -> kommo_files_emulator::EmulatorBuilder {
    let mut builder = Emulator::builder()
        .bind(args.bind)
        .account_port(args.account_port)
        .drive_port(args.drive_port)
        .max_part_size(args.max_part_size)
        .max_file_size(args.max_file_size)
        .rate_limit(args.rate_limit)
        .blocked(args.blocked)
        .oauth_server_time(!args.no_server_time)
        .tls(args.tls)
        .response_latency(std::time::Duration::from_millis(args.latency_ms))
        .part_status(match args.part_status {
            PartArg::S202 => PartStatus::Accepted202,
            PartArg::S200 => PartStatus::Ok200,
        })
        .delete_status(match args.delete_status {
            DeleteArg::S204 => DeleteStatus::NoContent204,
            DeleteArg::S200 => DeleteStatus::OkEmptyObject200,
        })
        .attach_status(match args.attach_status {
            AttachArg::S202 => AttachStatus::Accepted202,
            AttachArg::S200 => AttachStatus::OkEmptyObject200,
        })
        .missing_file_status(match args.missing_file_status {
            MissingArg::S404 => MissingFileStatus::NotFound404,
            MissingArg::S204 => MissingFileStatus::NoContent204,
        })
        .retry_mode(match args.retry_mode {
            RetryArg::Replay => RetryMode::Replay,
            RetryArg::Strict => RetryMode::Strict,
        })
        .download_status(match args.download_status {
            DownloadArg::S301 => DownloadStatus::MovedPermanently301,
            DownloadArg::S200 => DownloadStatus::Ok200,
        })
        .upload_url_shape(match args.upload_url_shape {
            ShapeArg::Upload => UploadUrlShape::Upload,
            ShapeArg::Sessions => UploadUrlShape::Sessions,
        });
    if let Some(path) = args.tls_ca_path {
        builder = builder.tls_ca_path(path);
    }
    if let Some(dir) = args.data_dir {
        builder = builder.data_dir(dir);
    }
    for grant in args.tokens {
        builder = builder.grant(grant);
    }
    for integration in args.integrations {
        builder = builder.integration(integration);
    }
    builder
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kommo-files-emulator: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let emulator = match builder(args).start_async().await {
            Ok(emulator) => emulator,
            Err(e) => {
                eprintln!("kommo-files-emulator: cannot start: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!("account_url: {}", emulator.account_url());
        println!("drive_url: {}", emulator.drive_url());
        if let Some(path) = emulator.ca_certificate_path() {
            println!("ca_certificate: {}", path.display());
        }
        for grant in emulator.tokens() {
            let scopes: Vec<&str> = grant.scopes.iter().map(|s| s.code()).collect();
            println!("token: {} ({})", grant.token, scopes.join(","));
        }
        for integration in emulator.integrations() {
            println!(
                "integration: {} (redirect_uri {})",
                integration.client_id, integration.redirect_uri
            );
        }
        if !emulator.integrations().is_empty() {
            println!("oauth_token_url: {}", emulator.oauth_token_url());
        }
        println!("control: {}/__emulator/health", emulator.account_url());
        println!("ready");
        if let Err(e) = tokio::signal::ctrl_c().await {
            eprintln!("kommo-files-emulator: cannot listen for Ctrl-C: {e}");
        }
        drop(emulator);
        eprintln!("kommo-files-emulator: stopped");
        ExitCode::SUCCESS
    })
}
