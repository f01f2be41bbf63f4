//! The command line: every command, flag and help text, as clap types. Parsing only; the
//! commands live in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::args::{ByteSize, Day, EntityRef};

/// The Kommo (amoCRM) Files API from a terminal: resumable uploads, listing, versions, trash,
/// downloads and links to CRM entities.
#[derive(Debug, Parser)]
#[command(
    name = "kommo-files",
    version,
    after_help = "\
Connection (in this order):
  --emulator                     a fresh embedded emulator (no account needed)
  KOMMO_BASE_URL + KOMMO_TOKEN   e.g. https://mycompany.kommo.com
  KOMMO_SUBDOMAIN + KOMMO_TOKEN  with KOMMO_DOMAIN = kommo.com (default), amocrm.ru or amocrm.com
  config file                    --config, KOMMO_CONFIG, or ~/.config/kommo-files/config.toml
  stored OAuth login             `kommo-files auth login`, used when no token is given

https through a TLS proxy or to a server with its own CA: --ca-cert PATH or
KOMMO_CA_CERT=PATH (PEM), trusted instead of the built-in roots.

Exit codes: 0 done, 1 failed, 2 usage or configuration error, 130 stopped by Ctrl-C.
Try `kommo-files demo` for a guided tour against the embedded emulator."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Print results (and errors) as JSON.
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
    /// No progress bars or lines: results, warnings and errors only.
    #[arg(long, short = 'q', global = true, help_heading = "Global options")]
    pub quiet: bool,
    /// Run against a fresh embedded emulator instead of an account.
    #[arg(long, global = true, help_heading = "Global options")]
    pub emulator: bool,
    /// A config file (TOML: base_url or subdomain [+ domain], token).
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        env = "KOMMO_CONFIG",
        help_heading = "Global options"
    )]
    pub config: Option<PathBuf>,
    /// Log to standard error: -v retries and refreshes, -vv every request (RUST_LOG overrides).
    #[arg(
        long,
        short = 'v',
        global = true,
        action = clap::ArgAction::Count,
        help_heading = "Global options"
    )]
    pub verbose: u8,
    /// Trust this CA certificate (PEM) instead of the built-in roots: for a TLS proxy or a
    /// server with its own CA.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        env = "KOMMO_CA_CERT",
        help_heading = "Global options"
    )]
    pub ca_cert: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Upload files and directories (recursively); a re-run continues unfinished uploads.
    Upload(UploadArgs),
    /// Make the account reflect a local folder: new files uploaded, changed ones as new
    /// versions, unchanged ones untouched (no request); --delete trashes what is gone.
    Sync(SyncArgs),
    /// Copy the account's files (or those `ls`'s filters select) to a folder, with a
    /// manifest.json; a re-run downloads only what is missing.
    Export(ExportArgs),
    /// List files, with filters.
    Ls(LsArgs),
    /// Show one file.
    Info(FileArg),
    /// Rename a file.
    Rename {
        /// The file's UUID.
        uuid: String,
        /// The new name (an extension equal to the current one is dropped by the server).
        name: String,
    },
    /// List a file's versions.
    Versions(FileArg),
    /// Make a version the active one.
    SetVersion {
        /// The file's UUID.
        uuid: String,
        /// The version's UUID.
        version: String,
    },
    /// Move files to the trash (kept 30 days).
    Rm {
        /// The files' UUIDs.
        #[arg(required = true)]
        uuids: Vec<String>,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Take files out of the trash.
    Restore {
        /// The files' UUIDs.
        #[arg(required = true)]
        uuids: Vec<String>,
    },
    /// List trashed files with the date they are purged.
    Trash,
    /// Download files (their active versions, or --version of one).
    Download(DownloadArgs),
    /// Attach a file to CRM entities.
    Attach(LinkArgs),
    /// Detach a file from CRM entities.
    Detach(LinkArgs),
    /// The entities a file is attached to, or with --entity the files of an entity.
    Links(LinksArgs),
    /// Add an attachment note with a file to an entity.
    Note(NoteArgs),
    /// Read or set a "file" custom field of an entity.
    #[command(subcommand)]
    Field(FieldCommand),
    /// Log in with OAuth 2.0 (a public integration), show or remove the stored login.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// A guided tour against the embedded emulator: upload, version, list, attach, note,
    /// delete, restore, download and verify.
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
pub struct FileArg {
    /// The file's UUID.
    pub uuid: String,
}

#[derive(Debug, Args)]
pub struct UploadArgs {
    /// Files and directories (directories are walked recursively).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Files uploaded at the same time (the 7 requests/s limit is shared by all).
    #[arg(long, short = 'j', default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub concurrency: u16,
    /// Upload as a new version of this file (one path only).
    #[arg(long, value_name = "UUID")]
    pub version_of: Option<String>,
    /// Ask the server to make previews (images, documents).
    #[arg(long)]
    pub preview: bool,
    /// Attach each uploaded file to an entity, e.g. leads:123 (repeatable).
    #[arg(long, value_name = "ENTITY:ID")]
    pub attach: Vec<EntityRef>,
    /// Add an attachment note for each uploaded file, e.g. leads:123 (repeatable).
    #[arg(long, value_name = "ENTITY:ID")]
    pub note: Vec<EntityRef>,
    /// Files per attachment or note request (--attach and --note are batched).
    #[arg(long, default_value_t = 50, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=250))]
    pub link_batch: u32,
    /// Read each upload back and compare its SHA-256 with the local file's.
    #[arg(long)]
    pub verify: bool,
    /// Start over: forget what an earlier run of this command left unfinished.
    #[arg(long)]
    pub no_resume: bool,
    /// Where unfinished uploads are remembered.
    #[arg(long, value_name = "DIR", env = "KOMMO_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The folder (walked recursively; Kommo files are named after each file's own name).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Move files whose local copy is gone to the trash (asks unless --yes).
    #[arg(long)]
    pub delete: bool,
    /// Do not ask before --delete trashes files.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Overwrite remote changes (a newer version, a trashed file) instead of skipping them.
    #[arg(long)]
    pub force: bool,
    /// Compare files of the same size by SHA-256, not by modification time.
    #[arg(long)]
    pub checksum: bool,
    /// Rebuild a lost manifest: match files to the account's by name and size (an
    /// ambiguous match is reported and skipped, never guessed).
    #[arg(long)]
    pub adopt: bool,
    /// Print the plan and the number of requests it takes; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Read each upload back and compare its SHA-256.
    #[arg(long)]
    pub verify: bool,
    /// Attach each new file to an entity, e.g. leads:123 (repeatable; batched).
    #[arg(long, value_name = "ENTITY:ID")]
    pub attach: Vec<EntityRef>,
    /// Add an attachment note for each new file, e.g. leads:123 (repeatable; batched).
    #[arg(long, value_name = "ENTITY:ID")]
    pub note: Vec<EntityRef>,
    /// Files per attachment or note request.
    #[arg(long, default_value_t = 50, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=250))]
    pub link_batch: u32,
    /// Where the manifest (path -> Kommo file) is kept, one per account and folder.
    #[arg(long, value_name = "DIR", env = "KOMMO_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The folder to write to (created if missing).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Every version of each file, not only the active one.
    #[arg(long)]
    pub all_versions: bool,
    /// Trashed files too.
    #[arg(long)]
    pub trashed: bool,
    /// Record the entities each file is attached to (one request per file).
    #[arg(long)]
    pub links: bool,
    /// Downloads at the same time (the 7 requests/s limit is shared by all).
    #[arg(long, short = 'j', default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub jobs: u16,
    /// Which files, as `ls` selects them.
    #[command(flatten)]
    pub filter: LsArgs,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only these extensions, without the dot (repeatable).
    #[arg(long = "ext", value_name = "EXT")]
    pub extensions: Vec<String>,
    /// Name contains.
    #[arg(long)]
    pub name: Option<String>,
    /// The file's name or a linked entity's name contains.
    #[arg(long)]
    pub term: Option<String>,
    /// At least this size: 1500, 10k, 5MB, 1GiB.
    #[arg(long, value_name = "SIZE")]
    pub min_size: Option<ByteSize>,
    /// At most this size.
    #[arg(long, value_name = "SIZE")]
    pub max_size: Option<ByteSize>,
    /// Which date --since, --until and --period look at.
    #[arg(long, value_enum, default_value_t = DateKind::Created)]
    pub date: DateKind,
    /// From this day (YYYY-MM-DD, UTC) or Unix time.
    #[arg(long, value_name = "DAY")]
    pub since: Option<Day>,
    /// Up to the end of this day (YYYY-MM-DD, UTC) or Unix time.
    #[arg(long, value_name = "DAY")]
    pub until: Option<Day>,
    /// A named period: day, yesterday, week, previous_week, month, previous_month, quarter,
    /// last_3_days, last_6_month, year, …
    #[arg(long, value_name = "PERIOD", conflicts_with_all = ["since", "until"])]
    pub period: Option<String>,
    /// Created by: a user id, 0 robot, -1 client (repeatable).
    #[arg(long, value_name = "ID", allow_negative_numbers = true)]
    pub created_by: Vec<i64>,
    /// Last changed by: a user id, 0 robot, -1 client (repeatable).
    #[arg(long, value_name = "ID", allow_negative_numbers = true)]
    pub updated_by: Vec<i64>,
    /// From this source.
    #[arg(long, value_name = "ID")]
    pub source_id: Option<i64>,
    /// Only these UUIDs (repeatable).
    #[arg(long = "uuid", value_name = "UUID")]
    pub uuids: Vec<String>,
    /// List trashed files instead.
    #[arg(long)]
    pub deleted: bool,
    /// Stop after this many files.
    #[arg(long, short = 'n', value_name = "N")]
    pub limit: Option<usize>,
    /// Files per request.
    #[arg(long, default_value_t = 50, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=250))]
    pub page_size: u32,
}

/// The date a listing filters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DateKind {
    Created,
    Updated,
}

#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// The files' UUIDs.
    #[arg(required = true, value_name = "UUID")]
    pub uuids: Vec<String>,
    /// A version's UUID instead of the active version (one file only).
    #[arg(long, value_name = "UUID")]
    pub version: Option<String>,
    /// A file path (one file only), or a directory to put the files in under their own names
    /// (default: here). A missing directory is created when PATH ends with / or several files
    /// are downloaded.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct LinkArgs {
    /// The file's UUID.
    pub uuid: String,
    /// Entities such as leads:123, contacts:7, companies:9, customers:4.
    #[arg(required = true, value_name = "ENTITY:ID")]
    pub entities: Vec<EntityRef>,
}

#[derive(Debug, Args)]
pub struct LinksArgs {
    /// The file's UUID.
    #[arg(required_unless_present = "entity", conflicts_with = "entity")]
    pub uuid: Option<String>,
    /// List the files attached to this entity instead.
    #[arg(long, value_name = "ENTITY:ID")]
    pub entity: Option<EntityRef>,
}

#[derive(Debug, Args)]
pub struct NoteArgs {
    /// The entity, e.g. leads:123.
    #[arg(value_name = "ENTITY:ID")]
    pub entity: EntityRef,
    /// The file's UUID.
    pub uuid: String,
    /// A comment, posted as a text note beside the attachment.
    #[arg(long)]
    pub text: Option<String>,
    /// A specific version instead of the active one.
    #[arg(long, value_name = "UUID")]
    pub version: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum FieldCommand {
    /// The files in the field.
    Get {
        /// The entity, e.g. leads:123.
        #[arg(value_name = "ENTITY:ID")]
        entity: EntityRef,
        /// The field's id.
        field_id: i64,
    },
    /// Put files in the field (their active versions), replacing what is there.
    Set {
        /// The entity, e.g. leads:123.
        #[arg(value_name = "ENTITY:ID")]
        entity: EntityRef,
        /// The field's id.
        field_id: i64,
        /// The files' UUIDs.
        #[arg(required = true, value_name = "UUID")]
        uuids: Vec<String>,
        /// Keep the files already in the field.
        #[arg(long)]
        append: bool,
    },
    /// Empty the field.
    Clear {
        /// The entity, e.g. leads:123.
        #[arg(value_name = "ENTITY:ID")]
        entity: EntityRef,
        /// The field's id.
        field_id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Log in to an account through Kommo's consent page and store the tokens: every command
    /// then uses them (refreshing them as needed) when no KOMMO_TOKEN is given.
    Login(LoginArgs),
    /// The credentials commands use: account, kind, expiry and where they are stored.
    Status,
    /// Remove the stored login of the account.
    Logout,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The integration's id (also KOMMO_CLIENT_ID, or client_id in the config file).
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// The integration's secret key (better: KOMMO_CLIENT_SECRET, or client_secret in the
    /// config file, than a flag other users can see in the process list).
    #[arg(long, value_name = "SECRET")]
    pub client_secret: Option<String>,
    /// The integration's redirect URI (also KOMMO_REDIRECT_URI, or redirect_uri in the config
    /// file).
    #[arg(long, value_name = "URI")]
    pub redirect_uri: Option<String>,
    /// The authorization code, instead of pasting it (the account must be given).
    #[arg(long, value_name = "CODE", conflicts_with = "redirect_url")]
    pub code: Option<String>,
    /// The URL the consent page redirected to, instead of pasting it (with --state).
    #[arg(long, value_name = "URL", requires = "state")]
    pub redirect_url: Option<String>,
    /// The `state` of the consent URL (default: a random one); the redirect must carry it.
    #[arg(long, value_name = "STATE")]
    pub state: Option<String>,
    /// Also store the client secret with the login (owner-only file), so commands can refresh
    /// the tokens without KOMMO_CLIENT_SECRET.
    #[arg(long)]
    pub save_secret: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Size of the generated file.
    #[arg(long, default_value = "3MiB", value_name = "SIZE")]
    pub size: ByteSize,
    /// Where the downloaded copy goes (default: a temporary directory, removed afterwards).
    #[arg(long, value_name = "DIR")]
    pub keep_in: Option<PathBuf>,
}
