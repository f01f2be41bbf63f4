//! Files and CRM entities: attach, detach, links, note.

use kommo_files::model::endpoint::EntityFilesQuery;
use kommo_files::model::wire::{AttachmentNote, EntityFileLink};

use super::Context;
use crate::args::EntityRef;
use crate::cli::{LinkArgs, NoteArgs};
use crate::failure::Failure;
use crate::output::{count, print, print_done, print_json, printable, Table};

/// Links asked for per page of `links --entity`.
const LINKS_PER_PAGE: u32 = 50;

/// Which way `attach` / `detach` changes a file's links.
#[derive(Debug, Clone, Copy)]
pub enum Change {
    Attach,
    Detach,
}

pub fn change(context: &Context, args: &LinkArgs, change: Change) -> Result<(), Failure> {
    let client = context.client();
    for entity in &args.entities {
        match change {
            Change::Attach => client.attach(&entity.kind, entity.id, &[&args.uuid]),
            Change::Detach => client.detach(&entity.kind, entity.id, &[&args.uuid]),
        }
        .map_err(|error| Failure::about_entity(error, entity))?;
    }
    let (done, preposition, key) = match change {
        Change::Attach => ("attached", "to", "attached_to"),
        Change::Detach => ("detached", "from", "detached_from"),
    };
    let entities: Vec<String> = args.entities.iter().map(ToString::to_string).collect();
    print_done(
        context.json,
        &format!("{done} {} {preposition} {}", args.uuid, entities.join(", ")),
        serde_json::json!({ "file_uuid": args.uuid, key: entities }),
    )
}

/// The entities a file is attached to.
pub fn file_links(context: &Context, uuid: &str) -> Result<(), Failure> {
    let links = context.client().file_entities(uuid)?;
    if context.json {
        return print_json(&links);
    }
    let mut table = Table::new(&["ENTITY", "NAME"]);
    for entity in &links.entities {
        let kind = entity
            .entity_type
            .as_ref()
            .map_or_else(|| "?".to_owned(), ToString::to_string);
        table.row(vec![
            format!("{kind}:{}", entity.id),
            printable(entity.name.as_deref().unwrap_or("")),
        ]);
    }
    print(&table.render())?;
    print(&format!(
        "attached to {}\n",
        count(links.entities.len(), "entity", "entities")
    ))
}

/// The files attached to an entity, every page.
pub fn entity_links(context: &Context, entity: &EntityRef) -> Result<(), Failure> {
    let mut links: Vec<EntityFileLink> = Vec::new();
    let mut before_id = None;
    loop {
        let query = EntityFilesQuery::new(Some(LINKS_PER_PAGE), before_id);
        let page = context
            .client()
            .entity_files(&entity.kind, entity.id, &query)
            .map_err(|error| Failure::about_entity(error, entity))?;
        let next = page.next_before_id();
        let full = page.files.len() as u32 >= LINKS_PER_PAGE;
        links.extend(page.files);
        // A short page is the last; a server that repeats itself must not loop us.
        match next {
            Some(next) if full && before_id.is_none_or(|before| next < before) => {
                before_id = Some(next)
            }
            _ => break,
        }
    }
    if context.json {
        return print_json(&links);
    }
    let mut table = Table::new(&["FILE", "LINK ID"]);
    for link in &links {
        table.row(vec![link.file_uuid.clone(), link.id.to_string()]);
    }
    print(&table.render())?;
    print(&format!(
        "{} attached to {entity}\n",
        count(links.len(), "file", "files")
    ))
}

pub fn note(context: &Context, args: &NoteArgs) -> Result<(), Failure> {
    let mut note = AttachmentNote::new(args.entity.id, &args.uuid);
    if let Some(version) = &args.version {
        note = note.version_uuid(version);
    }
    let created = match &args.text {
        Some(text) => context
            .client()
            .add_file_with_comment(&args.entity.kind, note, text),
        None => context
            .client()
            .add_attachment_notes(&args.entity.kind, &[note]),
    }
    .map_err(|error| Failure::about_entity(error, &args.entity))?;
    let ids: Vec<i64> = created.notes.iter().map(|note| note.id).collect();
    print_done(
        context.json,
        &format!(
            "added note(s) {ids:?} with {} to {}",
            args.uuid, args.entity
        ),
        serde_json::json!({ "entity": args.entity.to_string(), "note_ids": ids }),
    )
}
