//! One module per family of commands; [`run`] sends each command to its function.

mod auth;
mod demo;
mod download;
mod export;
mod fields;
mod files;
mod links;
mod sync;
mod upload;

use kommo_files::blocking::Client;

use crate::cli::{Cli, Command, Global, LinksArgs};
use crate::connection::{connect, Connection};
use crate::failure::Failure;
use crate::progress::Verbosity;

/// What every command works with: a connected client and the output format.
#[derive(Debug)]
pub struct Context {
    connection: Connection,
    json: bool,
    quiet: bool,
}

impl Context {
    pub fn new(connection: Connection, global: &Global) -> Self {
        Self {
            connection,
            json: global.json,
            quiet: global.quiet,
        }
    }

    /// What progress displays may say.
    pub fn verbosity(&self) -> Verbosity {
        Verbosity {
            json: self.json,
            quiet: self.quiet,
        }
    }

    pub fn client(&self) -> &Client {
        &self.connection.client
    }

    /// Whether the account is an embedded emulator that ends with this process.
    pub fn is_emulator(&self) -> bool {
        self.connection.emulator.is_some()
    }

    /// Names the account in the upload state; holds no secret.
    pub fn account_url(&self) -> &str {
        &self.connection.account_url
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Demo(args) => return demo::run(args, &cli.global),
        Command::Auth(command) => return auth::run(command, &cli.global),
        _ => {}
    }
    let connection = connect(
        cli.global.emulator,
        cli.global.config.as_deref(),
        cli.global.ca_cert.as_deref(),
    )?;
    let context = Context::new(connection, &cli.global);
    dispatch(&context, &cli.command)
}

/// Runs one command in an existing context (the demo runs several in one).
fn dispatch(context: &Context, command: &Command) -> Result<(), Failure> {
    match command {
        Command::Upload(args) => upload::upload(context, args),
        Command::Sync(args) => sync::sync(context, args),
        Command::Export(args) => export::export(context, args),
        Command::Ls(args) => files::ls(context, args),
        Command::Info(file) => files::info(context, &file.uuid),
        Command::Rename { uuid, name } => files::rename(context, uuid, name),
        Command::Versions(file) => files::versions(context, &file.uuid),
        Command::SetVersion { uuid, version } => files::set_version(context, uuid, version),
        Command::Rm { uuids, yes } => files::rm(context, uuids, *yes),
        Command::Restore { uuids } => files::restore(context, uuids),
        Command::Trash => files::trash(context),
        Command::Download(args) => download::download(context, args),
        Command::Attach(args) => links::change(context, args, links::Change::Attach),
        Command::Detach(args) => links::change(context, args, links::Change::Detach),
        Command::Links(LinksArgs {
            entity: Some(entity),
            ..
        }) => links::entity_links(context, entity),
        Command::Links(LinksArgs { uuid, .. }) => {
            links::file_links(context, uuid.as_deref().unwrap_or_default())
        }
        Command::Note(args) => links::note(context, args),
        Command::Field(command) => fields::field(context, command),
        Command::Demo(_) => Err(Failure::usage("the demo cannot run inside the demo")),
        Command::Auth(_) => Err(Failure::usage("the demo does not log in again")),
    }
}
