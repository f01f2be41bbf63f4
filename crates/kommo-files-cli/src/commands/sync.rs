//! `sync DIR`: make the account reflect a local folder. The SDK's sync engine
//! (`kommo_files::sync`) plans and executes; this command picks the manifest's place in the
//! state directory (one per account and folder), shows the plan, asks before deleting, and
//! prints what happened.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use kommo_files::sync::{Action, Plan, SyncEvent, SyncOptions};
use serde::Serialize;

use super::Context;
use crate::cli::SyncArgs;
use crate::failure::Failure;
use crate::output::{count, print, print_json, printable};
use crate::state::{default_state_dir, digest};

/// `--dry-run --json`: the plan and what it costs.
#[derive(Debug, Serialize)]
struct PlanJson<'a> {
    folder: &'a Path,
    manifest: &'a Path,
    counts: kommo_files::sync::PlanCounts,
    /// Requests executing the plan takes (the remote checks already made are not counted).
    requests: u64,
    items: Vec<&'a kommo_files::sync::PlanItem>,
}

pub fn sync(context: &Context, args: &SyncArgs) -> Result<(), Failure> {
    // An embedded emulator ends with this process, and so does the manifest.
    let throwaway_state = (args.state_dir.is_none() && context.is_emulator()).then(|| {
        std::env::temp_dir().join(format!("kommo-files-emulator-sync-{}", std::process::id()))
    });
    let result = run(context, args, throwaway_state.as_deref());
    if let Some(directory) = throwaway_state {
        let _ = std::fs::remove_dir_all(directory);
    }
    result
}

/// Where the manifest of `folder` on this account lives.
pub fn manifest_path(state_dir: &Path, account_url: &str, folder: &Path) -> PathBuf {
    let key = digest(&[account_url.as_bytes(), folder.to_string_lossy().as_bytes()]);
    state_dir.join("sync").join(key).join("manifest.json")
}

fn run(context: &Context, args: &SyncArgs, throwaway_state: Option<&Path>) -> Result<(), Failure> {
    let folder = std::fs::canonicalize(&args.dir)
        .map_err(|e| Failure::usage(format!("cannot sync {}: {e}", args.dir.display())))?;
    if !folder.is_dir() {
        return Err(Failure::usage(format!(
            "{} is not a directory",
            args.dir.display()
        )));
    }
    let state_dir = match (&args.state_dir, throwaway_state) {
        (Some(directory), _) => directory.clone(),
        (None, Some(directory)) => directory.to_owned(),
        (None, None) => default_state_dir(),
    };
    let manifest = manifest_path(&state_dir, context.account_url(), &folder);
    let options = options(context, args, &manifest);
    let plan = context.client().plan_sync(&folder, &options)?;
    let counts = plan.counts();
    let requests = plan.requests(options.rules());
    if args.dry_run {
        if context.json {
            return print_json(&PlanJson {
                folder: &folder,
                manifest: &manifest,
                counts,
                requests,
                items: plan
                    .items
                    .iter()
                    .filter(|i| i.action != Action::Unchanged)
                    .collect(),
            });
        }
        return print(&render_plan(&plan, requests));
    }
    if counts.delete > 0 && !args.yes {
        confirm_delete(&plan)?;
    }
    let report = context.client().execute_sync(&folder, &plan, options);
    let report = match report {
        Ok(report) => report,
        Err(kommo_files::Error::Cancelled { .. }) => {
            return Err(Failure::interrupted(
                "interrupted: what was synced is recorded",
            ))
        }
        Err(error) => return Err(error.into()),
    };
    if context.json {
        print_json(&serde_json::json!({
            "folder": folder,
            "counts": counts,
            "uploaded": report.uploaded(),
            "deleted": report.deleted(),
            "skipped": report.skipped(),
            "failed": report.failed(),
            "outcomes": report
                .outcomes
                .iter()
                .filter(|o| o.action != "unchanged")
                .collect::<Vec<_>>(),
        }))?;
    } else if !context.quiet {
        print(&format!(
            "synced {}: {} new, {} changed, {} unchanged, {} deleted, {} skipped, {} failed\n",
            printable(&folder.display().to_string()),
            counts.new,
            counts.changed,
            counts.unchanged,
            report.deleted(),
            report.skipped(),
            report.failed()
        ))?;
    }
    let failed = report.failed();
    if failed > 0 {
        let first = report.outcomes.iter().find(|o| o.status == "failed");
        return Err(Failure::refused(format!(
            "{failed} path(s) failed{}",
            first.map_or(String::new(), |o| format!(
                ", the first {} (see above)",
                o.path
            ))
        ))
        .hint("run the same command again to retry them"));
    }
    Ok(())
}

fn options(context: &Context, args: &SyncArgs, manifest: &Path) -> SyncOptions {
    let mut options = SyncOptions::new(manifest)
        .delete(args.delete)
        .force(args.force)
        .checksum(args.checksum)
        .adopt(args.adopt)
        .verify(args.verify)
        .link_batch(args.link_batch)
        .cancel_handle(crate::interrupt::cancel_on_ctrl_c());
    for entity in &args.attach {
        options = options.attach(&entity.kind, entity.id);
    }
    for entity in &args.note {
        options = options.note(&entity.kind, entity.id);
    }
    let (json, quiet) = (context.json, context.quiet);
    options.on_event(move |event| {
        if json {
            return;
        }
        let SyncEvent::Finished(outcome) = event else {
            return;
        };
        let path = printable(&outcome.path);
        let uuid = outcome.file_uuid.as_deref().unwrap_or("?");
        let verified = match outcome.verified {
            Some(true) => ", SHA-256 verified",
            _ => "",
        };
        let line = match (outcome.status, outcome.action) {
            ("failed", _) => {
                eprintln!(
                    "failed {path}: {}",
                    outcome.message.as_deref().unwrap_or("")
                );
                return;
            }
            ("skipped", action) => {
                eprintln!(
                    "{action} {path}: {}",
                    outcome.message.as_deref().unwrap_or("")
                );
                return;
            }
            (_, "new") => format!("uploaded {path} -> {uuid}{verified}"),
            (_, "changed") => format!(
                "new version {path} -> {uuid} (version {}){verified}",
                outcome.version_uuid.as_deref().unwrap_or("?")
            ),
            (_, "delete") => format!("trashed {path} ({uuid})"),
            (_, "adopt") => format!("adopted {path} -> {uuid}"),
            (_, "recovered") => format!("recorded {path} -> {uuid} (uploaded before)"),
            (_, "forget") => format!("forgot {path} (gone remotely too)"),
            _ => return,
        };
        if !quiet {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{line}");
        }
    })
}

fn render_plan(plan: &Plan, requests: u64) -> String {
    let mut out = String::new();
    for item in &plan.items {
        let path = printable(&item.path);
        let detail = match &item.action {
            Action::Unchanged => continue,
            Action::Conflict { conflict, .. } => format!(": {conflict}"),
            Action::Ambiguous { candidates } => {
                format!(
                    ": {} candidates ({})",
                    candidates.len(),
                    candidates.join(", ")
                )
            }
            Action::Missing => ": gone locally (kept: pass --delete to trash it)".to_owned(),
            _ => String::new(),
        };
        out.push_str(&format!("{:9} {path}{detail}\n", item.action.label()));
    }
    let counts = plan.counts();
    out.push_str(&format!(
        "plan: {} new, {} changed, {} unchanged, {} delete, {} conflict; {}\n",
        counts.new,
        counts.changed,
        counts.unchanged,
        counts.delete,
        counts.conflict,
        count(requests as usize, "request", "requests")
    ));
    out
}

/// Lists what `--delete` would trash and asks; refuses when nobody can answer.
fn confirm_delete(plan: &Plan) -> Result<(), Failure> {
    let paths: Vec<String> = plan
        .items
        .iter()
        .filter(|i| matches!(i.action, Action::Delete { .. }))
        .map(|i| printable(&i.path))
        .collect();
    if !std::io::stdin().is_terminal() {
        return Err(Failure::usage(format!(
            "refusing to trash {} without confirmation",
            count(paths.len(), "file", "files")
        ))
        .hint("pass --yes to delete from a script, or --dry-run to see the plan"));
    }
    eprint!(
        "Move {} to the trash: {}? [y/N] ",
        count(paths.len(), "file", "files"),
        paths.join(", ")
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::io("reading the answer", e))?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(Failure::refused("nothing synced")),
    }
}
