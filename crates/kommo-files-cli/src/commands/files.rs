//! Commands on files that are already stored: ls, info, rename, versions, set-version, rm,
//! restore, trash.

use std::io::{BufRead, IsTerminal, Write};

use kommo_files::model::endpoint::{
    DateField, DateFilter, DatePreset, DateRange, FileQuery, SizeRange,
};
use kommo_files::model::wire::{FileObject, FileVersion};

use super::Context;
use crate::cli::{DateKind, LsArgs};
use crate::failure::Failure;
use crate::output::{count, human_size, print, print_done, print_json, printable, when, Table};

/// How long the trash keeps a file (spec: 30 days, then it is purged).
const TRASH_RETENTION_SECONDS: i64 = 30 * 86_400;

pub fn ls(context: &Context, args: &LsArgs) -> Result<(), Failure> {
    let files = collect(context, query_of(args)?, args.limit)?;
    if context.json {
        return print_json(&files);
    }
    let mut table = Table::new(&["UUID", "SIZE", "UPDATED", "NAME"]);
    for file in &files {
        table.row(vec![
            file.uuid.clone(),
            human_size(file.size),
            when(file.updated_at.or(file.created_at)),
            printable(&file.name_with_extension()),
        ]);
    }
    print(&table.render())?;
    print(&format!("{}\n", count(files.len(), "file", "files")))
}

pub fn trash(context: &Context) -> Result<(), Failure> {
    let mut files = collect(context, FileQuery::new().deleted(true).limit(50), None)?;
    // Sources disagree on whether `filter[deleted]` lists only trashed files (docs/kommo-api.md#listing-files).
    files.retain(|file| file.is_trashed);
    let purge_at = |file: &FileObject| file.deleted_at.map(|at| at + TRASH_RETENTION_SECONDS);
    if context.json {
        let entries: Vec<serde_json::Value> = files
            .iter()
            .map(|file| serde_json::json!({ "file": file, "purge_at": purge_at(file) }))
            .collect();
        return print_json(&entries);
    }
    let mut table = Table::new(&["UUID", "SIZE", "DELETED", "PURGED ON", "NAME"]);
    for file in &files {
        table.row(vec![
            file.uuid.clone(),
            human_size(file.size),
            when(file.deleted_at),
            when(purge_at(file)),
            printable(&file.name_with_extension()),
        ]);
    }
    print(&table.render())?;
    print(&format!(
        "{} in the trash; `kommo-files restore UUID` takes one out\n",
        count(files.len(), "file", "files")
    ))
}

pub fn info(context: &Context, uuid: &str) -> Result<(), Failure> {
    let file = existing_file(context, uuid)?;
    if context.json {
        return print_json(&file);
    }
    let mut lines = vec![
        ("uuid", file.uuid.clone()),
        ("name", printable(&file.name_with_extension())),
        (
            "size",
            format!("{} ({} bytes)", human_size(file.size), file.size),
        ),
    ];
    if let Some(kind) = &file.kind {
        lines.push(("type", kind.to_string()));
    }
    let mime = file.metadata.as_ref().and_then(|m| m.mime_type.clone());
    if let Some(mime) = mime.filter(|m| !m.is_empty()) {
        lines.push(("mime type", mime));
    }
    if let Some(version) = &file.version_uuid {
        lines.push(("active version", version.clone()));
    }
    lines.push((
        "versions",
        if file.has_multiple_versions {
            "several"
        } else {
            "one"
        }
        .to_owned(),
    ));
    lines.push(("created", when(file.created_at)));
    lines.push(("updated", when(file.updated_at)));
    if file.is_trashed {
        lines.push(("trashed", when(file.deleted_at)));
        lines.push((
            "purged on",
            when(file.deleted_at.map(|at| at + TRASH_RETENTION_SECONDS)),
        ));
    }
    let width = lines.iter().map(|(key, _)| key.len()).max().unwrap_or(0);
    let text: String = lines
        .iter()
        .map(|(key, value)| format!("{key:width$}  {value}\n"))
        .collect();
    print(&text)
}

pub fn rename(context: &Context, uuid: &str, name: &str) -> Result<(), Failure> {
    if name.trim().is_empty() {
        return Err(Failure::usage("the new name is empty"));
    }
    let file = context.client().rename(uuid, name)?;
    print_done(
        context.json,
        &format!(
            "renamed {} to {}",
            file.uuid,
            printable(&file.name_with_extension())
        ),
        serde_json::json!({ "file": file }),
    )
}

pub fn versions(context: &Context, uuid: &str) -> Result<(), Failure> {
    let versions = context.client().versions(uuid)?;
    if context.json {
        return print_json(&versions);
    }
    print(&versions_table(&versions).render())
}

fn versions_table(versions: &[FileVersion]) -> Table {
    let mut table = Table::new(&["ACTIVE", "VERSION", "SIZE", "CREATED", "NAME"]);
    for version in versions {
        table.row(vec![
            if version.is_main { "*" } else { "" }.to_owned(),
            version.uuid.clone(),
            human_size(version.size),
            when(version.created_at),
            printable(&version.name_with_extension()),
        ]);
    }
    table
}

pub fn set_version(context: &Context, uuid: &str, version: &str) -> Result<(), Failure> {
    let file = context
        .client()
        .set_active_version(uuid, kommo_files::VersionUuid::new(version))?;
    print_done(
        context.json,
        &format!("{} now serves version {version}", file.uuid),
        serde_json::json!({ "file": file }),
    )
}

pub fn rm(context: &Context, uuids: &[String], yes: bool) -> Result<(), Failure> {
    if !yes {
        confirm_delete(context, uuids)?;
    }
    context.client().delete(uuids)?;
    print_done(
        context.json,
        &format!(
            "moved {} to the trash (kept 30 days; `kommo-files restore` brings them back)",
            count(uuids.len(), "file", "files")
        ),
        serde_json::json!({ "deleted": uuids }),
    )
}

/// Names what is about to go and asks; refuses when nobody can answer.
fn confirm_delete(context: &Context, uuids: &[String]) -> Result<(), Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::usage("refusing to delete without confirmation")
            .hint("pass --yes to delete from a script"));
    }
    let mut names = Vec::new();
    for uuid in uuids {
        names.push(printable(
            &existing_file(context, uuid)?.name_with_extension(),
        ));
    }
    eprint!(
        "Move {} file(s) to the trash: {}? [y/N] ",
        uuids.len(),
        names.join(", ")
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::io("reading the answer", e))?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(Failure::refused("nothing deleted")),
    }
}

pub fn restore(context: &Context, uuids: &[String]) -> Result<(), Failure> {
    let restored = context.client().restore(uuids)?;
    if context.json {
        return print_json(&serde_json::json!({ "ok": true, "restored": restored }));
    }
    let text: String = restored
        .iter()
        .map(|file| {
            format!(
                "restored {} {}\n",
                file.uuid,
                printable(&file.name_with_extension())
            )
        })
        .collect();
    print(&text)
}

/// The file, or a 404-like failure naming the UUID.
pub fn existing_file(context: &Context, uuid: &str) -> Result<FileObject, Failure> {
    context.client().get_file(uuid)?.ok_or_else(|| {
        Failure::not_found(format!("no file {uuid}"))
            .hint("`kommo-files ls` lists files, `kommo-files trash` trashed ones")
    })
}

/// Up to `limit` files of a listing, following pages.
pub(super) fn collect(
    context: &Context,
    query: FileQuery,
    limit: Option<usize>,
) -> Result<Vec<FileObject>, Failure> {
    let mut files = Vec::new();
    for file in context.client().list(query) {
        if limit.is_some_and(|limit| files.len() >= limit) {
            break;
        }
        files.push(file?);
    }
    Ok(files)
}

pub(super) fn query_of(args: &LsArgs) -> Result<FileQuery, Failure> {
    let mut query = FileQuery::new().deleted(args.deleted).limit(args.page_size);
    for extension in &args.extensions {
        query = query.extension(extension.trim_start_matches('.'));
    }
    for uuid in &args.uuids {
        query = query.uuid(uuid);
    }
    if let Some(name) = &args.name {
        query = query.name(name);
    }
    if let Some(term) = &args.term {
        query = query.term(term);
    }
    if let Some(source) = args.source_id {
        query = query.source_id(source);
    }
    for id in &args.created_by {
        query = query.created_by(*id);
    }
    for id in &args.updated_by {
        query = query.updated_by(*id);
    }
    if args.min_size.is_some() || args.max_size.is_some() {
        let (from, to) = (args.min_size.map(|s| s.0), args.max_size.map(|s| s.0));
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                return Err(Failure::usage("--min-size is larger than --max-size"));
            }
        }
        query = query.size(SizeRange::new(1, from, to));
    }
    let field = match args.date {
        DateKind::Created => DateField::CreatedAt,
        DateKind::Updated => DateField::UpdatedAt,
    };
    if let Some(period) = &args.period {
        let preset = DatePreset::from(period.as_str());
        if matches!(preset, DatePreset::Other(_)) {
            return Err(Failure::usage(format!("unknown --period {period:?}")).hint(
                "use day, tomorrow, yesterday, week, previous_week, next_week, month, next_month, \
                 previous_month, quarter, previous_quarter, next_quarter, last_3_days, next_3_days, \
                 last_6_month or year",
            ));
        }
        query = query.date(DateFilter::new(field, DateRange::Preset(preset)));
    } else if args.since.is_some() || args.until.is_some() {
        let (from, to) = (args.since.map(|d| d.start()), args.until.map(|d| d.end()));
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                return Err(Failure::usage("--since is after --until"));
            }
        }
        query = query.date(DateFilter::new(field, DateRange::Between { from, to }));
    }
    Ok(query)
}
