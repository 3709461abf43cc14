//! `idaudit access USER`: a user's current access as the last sync stored
//! it, with how each app was granted and since when.
//!
//! "Since" comes from the change history when it recorded the grant, else
//! from the `created` time Okta reports for the assignment, role or factor.
//! Memberships have no `created` time in Okta, so a membership older than the
//! history shows none.

use anyhow::{Result, bail};
use idaudit_store::{Store, UserAccess};
use serde_json::{Value, json};

use crate::args::{AccessArgs, Format};
use crate::commands::sync::open_existing_store;
use crate::exit::ExitStatus;
use crate::output::print_table;
use crate::settings::Settings;

/// One line of the output: a group, app, role or factor.
struct Entry {
    kind: &'static str,
    id: String,
    name: String,
    /// Grant path of the access (`direct`, `through group …`), or a factor's status.
    grant: String,
    since: Option<String>,
    since_source: &'static str,
}

pub fn run(settings: &Settings, args: &AccessArgs) -> Result<ExitStatus> {
    let store = open_existing_store(settings)?;
    let org = resolve_user_org(settings, &store, args.org.as_deref(), &args.user)?;
    let Some(access) = store.user_access(&org, &args.user)? else {
        let stored = store.orgs()?;
        if !stored.contains(&org) {
            bail!(
                "No synced data of `{org}` found in the store (stored orgs: {}): choose one with `--org`, or run `idaudit sync`",
                if stored.is_empty() {
                    "nothing".to_string()
                } else {
                    stored.join(", ")
                }
            );
        }
        bail!(
            "User `{}` not found in `{org}`: give an Okta user id or login, and run `idaudit sync` if the user is new",
            args.user
        );
    };
    let entries = entries(&store, &org, &access)?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => print_json(&mut out, &org, &access, &entries)?,
        Format::Table => print_access_table(&mut out, &access, &entries)?,
    }
    Ok(ExitStatus::Success)
}

/// Returns the org to read: `--org` (a configured name or a store key), the
/// only configured org, or the only synced one.
pub(crate) fn resolve_org(
    settings: &Settings,
    store: &Store,
    requested: Option<&str>,
) -> Result<String> {
    if let Some(org) = requested {
        return Ok(settings
            .store_key_of(org)
            .unwrap_or_else(|| org.to_string()));
    }
    let configured = settings.configured_orgs();
    if let [org] = configured.as_slice() {
        return org.store_key();
    }
    let orgs = store.orgs()?;
    match orgs.as_slice() {
        [org] => Ok(org.clone()),
        [] => bail!("No synced org in the store: run `idaudit sync` first"),
        _ => {
            let names: Vec<String> = if configured.is_empty() {
                orgs.clone()
            } else {
                configured.iter().map(|org| org.label()).collect()
            };
            bail!(
                "Several orgs in the store ({}): choose one with `--org`",
                names.join(", ")
            )
        }
    }
}

/// Finds the org that holds `user` when no `--org` was given and several
/// orgs are stored; falls back to [`resolve_org`] otherwise.
fn resolve_user_org(
    settings: &Settings,
    store: &Store,
    requested: Option<&str>,
    user: &str,
) -> Result<String> {
    let stored = store.orgs()?;
    if requested.is_some() || stored.len() < 2 {
        return resolve_org(settings, store, requested);
    }
    let mut holders = Vec::new();
    for org in stored {
        if store.user_access(&org, user)?.is_some() {
            holders.push(org);
        }
    }
    match holders.as_slice() {
        [org] => Ok(org.clone()),
        [] => resolve_org(settings, store, requested),
        _ => bail!(
            "User `{user}` exists in several orgs ({}): choose one with `--org`",
            holders.join(", ")
        ),
    }
}

/// The `since_source` of access held when the first sync ran: `since` is that sync's
/// start, and the access may be older.
const FIRST_SYNC: &str = "first-sync";

fn entries(store: &Store, org: &str, access: &UserAccess) -> Result<Vec<Entry>> {
    let user_id = access.user.id.as_str();
    let first_sync = store.first_sync_started(org)?;
    // Okta gives no start time for a membership; access found by the first sync has
    // been held at least since that sync started.
    let since = |kind: &str, object: &str, created: Option<&String>| -> Result<_> {
        Ok(match store.entitlement_since(org, kind, user_id, object)? {
            Some(time) => (Some(time), "history"),
            None => match (created, &first_sync) {
                (Some(created), _) => (Some(created.clone()), "okta"),
                (None, Some(first)) => (Some(first.clone()), FIRST_SYNC),
                (None, None) => (None, ""),
            },
        })
    };
    let mut entries = Vec::new();
    for group in &access.groups {
        let (since, since_source) = since("membership", &group.group_id, None)?;
        entries.push(Entry {
            kind: "group",
            id: group.group_id.clone(),
            name: group.name.clone(),
            grant: format!("member ({})", group.group_type),
            since,
            since_source,
        });
    }
    for app in &access.apps {
        let assignment = &app.assignment;
        let how = match (&assignment.granting_group_id, &app.granting_group_name) {
            (Some(_), Some(name)) => format!("through group `{name}`"),
            (Some(id), None) => format!("through group `{id}`"),
            (None, _) if assignment.scope == "USER" => "direct".to_string(),
            (None, _) => format!("scope {}", assignment.scope),
        };
        let (since, since_source) = since(
            "app_assignment",
            &assignment.app_id,
            assignment.created.as_ref(),
        )?;
        entries.push(Entry {
            kind: "app",
            id: assignment.app_id.clone(),
            name: app.label.clone(),
            grant: how,
            since,
            since_source,
        });
    }
    for role in &access.roles {
        let inherited = role.assignee_type == "GROUP";
        let how = if inherited {
            let name = access
                .groups
                .iter()
                .find(|group| group.group_id == role.assignee_id)
                .map_or(role.assignee_id.as_str(), |group| group.name.as_str());
            format!("through group `{name}`")
        } else {
            "direct".to_string()
        };
        let (since, since_source) = if inherited {
            (
                role.created.clone(),
                if role.created.is_some() { "okta" } else { "" },
            )
        } else {
            since("role", &role.id, role.created.as_ref())?
        };
        let mut name = role.label.clone().unwrap_or_else(|| role.role_type.clone());
        if let Some(custom) = &role.custom_role_id {
            name.push_str(&format!(" (custom role `{custom}`)"));
        }
        entries.push(Entry {
            kind: "role",
            id: role.id.clone(),
            name,
            grant: how,
            since,
            since_source,
        });
    }
    for factor in &access.factors {
        let (since, since_source) = since("factor", &factor.id, factor.created.as_ref())?;
        let provider = factor.provider.as_deref().unwrap_or("unknown provider");
        entries.push(Entry {
            kind: "factor",
            id: factor.id.clone(),
            name: format!("{} ({provider})", factor.factor_type),
            grant: factor.status.clone().unwrap_or_default(),
            since,
            since_source,
        });
    }
    Ok(entries)
}

fn print_access_table(
    out: &mut impl std::io::Write,
    access: &UserAccess,
    entries: &[Entry],
) -> std::io::Result<()> {
    let user = &access.user;
    writeln!(
        out,
        "{} ({}), {}, id {}",
        user.login,
        user.full_name(),
        user.status,
        user.id
    )?;
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|entry| {
            vec![
                entry.kind.to_string(),
                entry.name.clone(),
                entry.grant.clone(),
                match &entry.since {
                    Some(time) if entry.since_source == FIRST_SYNC => format!("before {time}"),
                    Some(time) => time.clone(),
                    None => String::new(),
                },
                entry.id.clone(),
            ]
        })
        .collect();
    print_table(out, &["TYPE", "NAME", "GRANT", "SINCE", "ID"], &rows)
}

fn print_json(
    out: &mut impl std::io::Write,
    org: &str,
    access: &UserAccess,
    entries: &[Entry],
) -> std::io::Result<()> {
    let mut user = json!({"type": "user", "org": org});
    if let (Some(object), Ok(Value::Object(fields))) =
        (user.as_object_mut(), serde_json::to_value(&access.user))
    {
        object.extend(fields);
    }
    writeln!(out, "{user}")?;
    for entry in entries {
        let line = json!({
            "type": entry.kind,
            "org": org,
            "user_id": access.user.id,
            "id": entry.id,
            "name": entry.name,
            "grant": entry.grant,
            "since": entry.since,
            "since_source": (!entry.since_source.is_empty()).then_some(entry.since_source),
        });
        writeln!(out, "{line}")?;
    }
    Ok(())
}
