//! `idaudit changes`: entitlement changes recorded by syncs, oldest first.

use std::collections::HashMap;
use std::io::Write;

use anyhow::{Result, bail};
use chrono::Utc;
use idaudit_store::{Change, ChangeQuery, Store};
use serde_json::{Value, json};

use crate::args::{ChangesArgs, Format};
use crate::commands::sync::open_existing_store;
use crate::exit::ExitStatus;
use crate::output::print_table;
use crate::settings::Settings;
use crate::time::parse_time;

pub fn run(settings: &Settings, args: &ChangesArgs) -> Result<ExitStatus> {
    let now = Utc::now();
    let since = parse_time(&args.since, now)?;
    let until = match &args.until {
        Some(text) => Some(parse_time(text, now)?),
        None => None,
    };
    let store = open_existing_store(settings)?;
    let org = match &args.org {
        Some(org) => Some(settings.store_key_of(org).unwrap_or_else(|| org.clone())),
        None => match settings.configured_orgs().as_slice() {
            [only] => Some(only.store_key()?),
            _ => None,
        },
    };
    let subject_id = match &args.user {
        Some(user) => Some(find_user(&store, settings, org.as_deref(), user)?),
        None => None,
    };
    let query = ChangeQuery {
        org,
        since: Some(idaudit_store::format_time(since)),
        until: until.map(idaudit_store::format_time),
        subject_id,
    };
    let changes = store.changes(&query)?;
    let names = Names::new(&store);

    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            for change in &changes {
                writeln!(out, "{}", change_json(change, &names)?)?;
            }
        }
        Format::Table => print_changes_table(&mut out, &changes, &names)?,
    }
    if changes.is_empty() {
        eprintln!(
            "No changes recorded in this range; `idaudit sync` records them from the second sync on"
        );
    }
    Ok(ExitStatus::Success)
}

/// Finds the id of a user given by id or login.
fn find_user(store: &Store, settings: &Settings, org: Option<&str>, user: &str) -> Result<String> {
    let org = crate::commands::access::resolve_org(settings, store, org)?;
    match store.user_access(&org, user)? {
        Some(access) => Ok(access.user.id),
        None => bail!("User `{user}` not found in `{org}`: give an Okta user id or login"),
    }
}

/// Readable names of the ids in changes, loaded once per org.
struct Names<'a> {
    store: &'a Store,
    by_org: std::cell::RefCell<HashMap<String, HashMap<String, String>>>,
}

impl<'a> Names<'a> {
    fn new(store: &'a Store) -> Names<'a> {
        Names {
            store,
            by_org: std::cell::RefCell::new(HashMap::new()),
        }
    }

    /// Returns the name of `id` in `org`, or `None` when it is not stored,
    /// such as a deleted user.
    fn name(&self, org: &str, id: &str) -> Result<Option<String>> {
        let mut by_org = self.by_org.borrow_mut();
        if !by_org.contains_key(org) {
            by_org.insert(org.to_string(), self.store.object_names(org)?);
        }
        Ok(by_org.get(org).and_then(|names| names.get(id)).cloned())
    }

    fn label(&self, org: &str, id: &str) -> Result<String> {
        if id.is_empty() {
            return Ok(String::new());
        }
        Ok(self.name(org, id)?.unwrap_or_else(|| id.to_string()))
    }
}

/// Prints the changes as a table, with an ORG column when they span orgs.
fn print_changes_table(out: &mut impl Write, changes: &[Change], names: &Names<'_>) -> Result<()> {
    let several_orgs = changes.iter().any(|change| change.org != changes[0].org);
    let mut rows = Vec::with_capacity(changes.len());
    for change in changes {
        let draft = &change.draft;
        let values = match (&draft.old_value, &draft.new_value) {
            (Some(old), Some(new)) => format!("{old} -> {new}"),
            (Some(old), None) => old.clone(),
            (None, Some(new)) => new.clone(),
            (None, None) => String::new(),
        };
        let source = match &change.event_uuid {
            Some(uuid) => format!("event {uuid}"),
            None => change.source.clone(),
        };
        let mut row = Vec::with_capacity(8);
        if several_orgs {
            row.push(change.org.clone());
        }
        row.extend([
            change.time.clone(),
            draft.kind.clone(),
            draft.action.clone(),
            names.label(&change.org, &draft.subject_id)?,
            names.label(&change.org, &draft.object_id)?,
            values,
            source,
        ]);
        rows.push(row);
    }
    let columns = [
        "ORG", "TIME", "KIND", "ACTION", "WHO", "WHAT", "VALUE", "SOURCE",
    ];
    let columns = if several_orgs {
        &columns[..]
    } else {
        &columns[1..]
    };
    print_table(out, columns, &rows)?;
    Ok(())
}

fn change_json(change: &Change, names: &Names<'_>) -> Result<Value> {
    let mut value = json!({"type": "change"});
    if let (Some(object), Value::Object(fields)) =
        (value.as_object_mut(), serde_json::to_value(change)?)
    {
        object.extend(fields);
        object.insert(
            "subject_name".to_string(),
            json!(names.name(&change.org, &change.draft.subject_id)?),
        );
        object.insert(
            "object_name".to_string(),
            json!(names.name(&change.org, &change.draft.object_id)?),
        );
    }
    Ok(value)
}
