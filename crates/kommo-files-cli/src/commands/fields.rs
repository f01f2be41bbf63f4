//! `field get | set | clear`: the files in a "file" custom field of an entity.

use kommo_files::model::wire::FileFieldValue;

use super::files::existing_file;
use super::Context;
use crate::args::EntityRef;
use crate::cli::FieldCommand;
use crate::failure::Failure;
use crate::output::{count, human_size, print, print_done, print_json, printable, Table};

pub fn field(context: &Context, command: &FieldCommand) -> Result<(), Failure> {
    match command {
        FieldCommand::Get { entity, field_id } => get(context, entity, *field_id),
        FieldCommand::Set {
            entity,
            field_id,
            uuids,
            append,
        } => set(context, entity, *field_id, uuids, *append),
        FieldCommand::Clear { entity, field_id } => write(context, entity, *field_id, &[]),
    }
}

fn get(context: &Context, entity: &EntityRef, field_id: i64) -> Result<(), Failure> {
    let values = context
        .client()
        .file_field(&entity.kind, entity.id, field_id)
        .map_err(|error| Failure::about_entity(error, entity))?;
    if context.json {
        return print_json(&values);
    }
    let mut table = Table::new(&["FILE", "VERSION", "SIZE", "DELETED", "NAME"]);
    for read in &values {
        let value = &read.value;
        table.row(vec![
            value.file_uuid.clone(),
            value.version_uuid.clone().unwrap_or_else(|| "-".to_owned()),
            value.file_size.map_or_else(|| "-".to_owned(), human_size),
            if read.is_deleted { "yes" } else { "" }.to_owned(),
            printable(value.file_name.as_deref().unwrap_or("")),
        ]);
    }
    print(&table.render())?;
    print(&format!(
        "{} in field {field_id} of {entity}\n",
        count(values.len(), "file", "files")
    ))
}

fn set(
    context: &Context,
    entity: &EntityRef,
    field_id: i64,
    uuids: &[String],
    append: bool,
) -> Result<(), Failure> {
    let mut values: Vec<FileFieldValue> = Vec::new();
    if append {
        let current = context
            .client()
            .file_field(&entity.kind, entity.id, field_id)
            .map_err(|error| Failure::about_entity(error, entity))?;
        // What GET returned carries `is_deleted`, which must not be sent back.
        values.extend(current.into_iter().map(|read| read.into_value()));
    }
    for uuid in uuids {
        if values.iter().any(|value| &value.file_uuid == uuid) {
            continue;
        }
        values.push(FileFieldValue::from_file(&existing_file(context, uuid)?));
    }
    write(context, entity, field_id, &values)
}

fn write(
    context: &Context,
    entity: &EntityRef,
    field_id: i64,
    values: &[FileFieldValue],
) -> Result<(), Failure> {
    context
        .client()
        .set_file_field(&entity.kind, entity.id, field_id, values)
        .map_err(|error| Failure::about_entity(error, entity))?;
    let uuids: Vec<&str> = values.iter().map(|v| v.file_uuid.as_str()).collect();
    print_done(
        context.json,
        &format!(
            "field {field_id} of {entity} now holds {}",
            count(values.len(), "file", "files")
        ),
        serde_json::json!({ "entity": entity.to_string(), "field_id": field_id, "files": uuids }),
    )
}
