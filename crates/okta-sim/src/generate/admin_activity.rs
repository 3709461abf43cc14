//! Labelled admin and security activity, planned after the sign-in attacks.
//!
//! - `admin_console_new_country`: an admin signs in from a country never used before and
//!   opens the Admin Console; Okta's behaviour detection marks the location as new and
//!   rates the sign-in high risk. Expected alert `admin-console-risky-sign-in`. When the
//!   window is long enough the sign-in falls after the admin's first fourteen days of
//!   sign-ins, so `new-country-for-user` fires too.
//! - `privilege_grant_by_non_admin`: a user with no admin role grants the organization
//!   administrator role to another ordinary user. Expected alert `admin-privilege-grant`.
//! - `api_token_created`: the super admin creates an API token. Expected alert
//!   `api-token-created`.
//! - `mfa_reset_not_reenrolled`: an admin resets all factors of a user, who enrols none
//!   again; the user has no factors left. Expected alert `mfa-reset-not-reenrolled`.
//! - `policy_change_by_person`: an admin changes a sign-on policy rule so that it no
//!   longer requires MFA. Expected alert `policy-change-by-person`.
//! - `threatinsight_detection`: Okta ThreatInsight flags three to six requests from one
//!   hosting-network address, logging them only or denying them. Expected alert
//!   `threatinsight-detection`.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};

use super::access::new_role;
use super::catalog::{BROWSERS, DATACENTERS, HOME_CITIES, ORG_ADMIN, SCRIPT_BROWSER};
use super::directory::{Directory, between};
use super::events::{
    Actor, Draft, EventLog, Target, app_instance_target, successful_sign_in, user_target,
};
use super::lifecycle::origin_of;
use super::scenarios::{Label, PlanContext, Source, Written};
use super::{Org, Scenario, ScenarioKind};
use crate::ids::{derived_object_id, object_id};

/// Days of sign-ins the `new-country-for-user` rule learns from before it alerts.
const COUNTRY_LEARNING_DAYS: i64 = 14;
/// Names the API token gets, as an admin would name one for an integration.
const TOKEN_NAMES: &[&str] = &["terraform", "ci-sync", "hr-import", "reporting"];

/// The admin activity chosen for an org; a kind not selected is `None`.
#[derive(Default)]
pub(crate) struct Plan {
    admin_console: Option<AdminConsole>,
    grant: Option<Grant>,
    token: Option<Token>,
    reset: Option<FactorReset>,
    policy: Option<PolicyChange>,
    threat: Option<Threat>,
}

struct AdminConsole {
    admin: usize,
    source: Source,
    at: DateTime<Utc>,
}

struct Grant {
    actor: usize,
    grantee: usize,
    at: DateTime<Utc>,
}

struct Token {
    admin: usize,
    id: String,
    name: &'static str,
    at: DateTime<Utc>,
}

struct FactorReset {
    admin: usize,
    user: usize,
    at: DateTime<Utc>,
}

struct PolicyChange {
    admin: usize,
    at: DateTime<Utc>,
}

struct Threat {
    source: Source,
    times: Vec<DateTime<Utc>>,
    blocked: bool,
}

/// Plans every kind of admin activity and applies the selected ones to the directory.
pub(crate) fn plan(context: &mut PlanContext<'_>, directory: &mut Directory) -> Plan {
    let admin_console = plan_admin_console(context, directory);
    let grant = plan_grant(context, directory);
    let token = plan_token(context, directory);
    let reset = plan_reset(context, directory);
    let policy = plan_policy(context, directory);
    // ThreatInsight watches requests to an org with people in it.
    let threat = (!directory.users.is_empty())
        .then(|| plan_threat(context))
        .flatten();
    let keep = |kind| context.selects(kind);
    Plan {
        admin_console: admin_console.filter(|_| keep(ScenarioKind::AdminConsoleNewCountry)),
        grant: grant.filter(|_| keep(ScenarioKind::PrivilegeGrantByNonAdmin)),
        token: token.filter(|_| keep(ScenarioKind::ApiTokenCreated)),
        reset: reset.filter(|_| keep(ScenarioKind::MfaResetNotReenrolled)),
        policy: policy.filter(|_| keep(ScenarioKind::PolicyChangeByPerson)),
        threat: threat.filter(|_| keep(ScenarioKind::ThreatinsightDetection)),
    }
}

fn plan_admin_console(
    context: &mut PlanContext<'_>,
    directory: &Directory,
) -> Option<AdminConsole> {
    let admin = *directory.admins.choose(context.rng)?;
    let home_country = HOME_CITIES[directory.personas[admin].city]
        .place
        .country_code;
    let abroad: Vec<usize> = (0..HOME_CITIES.len())
        .filter(|&city| HOME_CITIES[city].place.country_code != home_country)
        .collect();
    let source = match abroad.choose(context.rng) {
        Some(&city) => Source::city(context.rng, city, &BROWSERS[0]),
        None => Source::datacenter(context.rng, 0, &BROWSERS[0]),
    };
    let window = context.window;
    let learnt = window.start + Duration::days(COUNTRY_LEARNING_DAYS + 2);
    let at = if window.end - learnt > Duration::days(1) {
        between(context.rng, learnt, window.end - Duration::days(1))
            + Duration::milliseconds(context.rng.gen_range(0..1000))
    } else {
        context.mid_window()
    };
    Some(AdminConsole { admin, source, at })
}

fn plan_grant(context: &mut PlanContext<'_>, directory: &mut Directory) -> Option<Grant> {
    let actor = context.take_user(directory)?;
    let grantee = context.take_user(directory)?;
    let at = context.mid_window();
    let role = new_role(context.rng, &ORG_ADMIN, at);
    if context.selects(ScenarioKind::PrivilegeGrantByNonAdmin) {
        directory.roles.entry(grantee).or_default().push(role);
    }
    Some(Grant { actor, grantee, at })
}

fn plan_token(context: &mut PlanContext<'_>, directory: &Directory) -> Option<Token> {
    let admin = *directory.admins.first()?;
    let id = object_id(context.rng, "00T");
    let name = *TOKEN_NAMES.choose(context.rng)?;
    let at = context.mid_window();
    Some(Token {
        admin,
        id,
        name,
        at,
    })
}

fn plan_reset(context: &mut PlanContext<'_>, directory: &Directory) -> Option<FactorReset> {
    let user = context.take_user(directory)?;
    let admin = directory
        .admins
        .get(2)
        .or(directory.admins.first())
        .copied()?;
    // The rule judges a reset once a day has passed, so the reset leaves two days of log.
    let window = context.window;
    let fifth = (window.end - window.start) / 5;
    let latest = window.end - fifth.max(Duration::days(2));
    let at = between(context.rng, window.start + fifth, latest)
        + Duration::milliseconds(context.rng.gen_range(0..1000));
    Some(FactorReset { admin, user, at })
}

fn plan_policy(context: &mut PlanContext<'_>, directory: &Directory) -> Option<PolicyChange> {
    let admin = *directory.admins.first()?;
    let at = context.mid_window();
    Some(PolicyChange { admin, at })
}

fn plan_threat(context: &mut PlanContext<'_>) -> Option<Threat> {
    let datacenter = context.rng.gen_range(0..DATACENTERS.len());
    let source = Source::datacenter(context.rng, datacenter, &SCRIPT_BROWSER);
    let start = context.mid_window();
    let count = context.rng.gen_range(3..=6);
    let mut times: Vec<DateTime<Utc>> = (0..count)
        .map(|_| start + Duration::milliseconds(context.rng.gen_range(0..600_000)))
        .collect();
    times.sort_unstable();
    let blocked = context.rng.gen_bool(0.5);
    Some(Threat {
        source,
        times,
        blocked,
    })
}

/// Writes the events of the planned activity and returns its ground truth.
pub(crate) fn record(plan: &Plan, directory: &Directory, log: &mut EventLog) -> Vec<Scenario> {
    let mut scenarios = Vec::new();
    if let Some(console) = &plan.admin_console {
        scenarios.push(record_admin_console(console, directory, log));
    }
    if let Some(grant) = &plan.grant {
        scenarios.push(record_grant(grant, directory, log));
    }
    if let Some(token) = &plan.token {
        scenarios.push(record_token(token, directory, log));
    }
    if let Some(reset) = &plan.reset {
        scenarios.push(record_reset(reset, directory, log));
    }
    if let Some(policy) = &plan.policy {
        scenarios.push(record_policy(policy, directory, log));
    }
    if let Some(threat) = &plan.threat {
        scenarios.push(record_threat(threat, directory, log));
    }
    scenarios
}

/// Removes the factors of the user whose factors were reset, which the factor list of
/// the org shows only after it is built.
pub(crate) fn finish(plan: &Plan, org: &mut Org) {
    if let Some(reset) = &plan.reset
        && let Some(user) = org.users.get(reset.user)
    {
        let id = user.id.clone();
        org.factors.remove(&id);
    }
}

/// `debugData` of a sign-in that Okta's behaviour detection saw from a new place.
fn new_place_debug_data() -> Vec<(&'static str, Value)> {
    vec![
        (
            "behaviors",
            json!(
                "{New Geo-Location=POSITIVE, New Device=NEGATIVE, New IP=POSITIVE, New State=POSITIVE, New Country=POSITIVE, Velocity=POSITIVE, New City=POSITIVE}"
            ),
        ),
        (
            "risk",
            json!("{reasons=Anomalous Geo-Distance, New Country, level=HIGH}"),
        ),
    ]
}

fn record_admin_console(
    console: &AdminConsole,
    directory: &Directory,
    log: &mut EventLog,
) -> Scenario {
    let admin = &directory.users[console.admin];
    let origin = console.source.origin();
    let session = log.new_session_id();
    let mut written = Written::default();
    let uuid = successful_sign_in(
        log,
        (admin, &directory.dashboard_app_id),
        origin,
        (console.at, session.clone()),
        new_place_debug_data(),
    );
    written.note(uuid, console.at);
    let opened = console.at + Duration::milliseconds(12_000);
    let console_app = derived_object_id("0oa", "okta-admin-console");
    written.push(
        log,
        Draft {
            origin: Some(origin),
            session_id: Some(session),
            targets: vec![app_instance_target(
                &console_app,
                "Okta Admin Console",
                "OPENID_CONNECT",
            )],
            request_url: Some("/admin/sso/request".to_string()),
            debug: new_place_debug_data(),
            ..Draft::new(
                opened,
                "user.session.access_admin_app",
                "User accessing Okta admin app",
                Actor::user(admin),
            )
        },
    );
    let description = format!(
        "Admin `{}` opened the Admin Console from {}, {}, a country the admin never signed in from",
        admin.profile.login, console.source.place.city, console.source.place.country,
    );
    let mut label = Label::new(
        ScenarioKind::AdminConsoleNewCountry,
        description,
        vec![console.admin],
    );
    label.ips = vec![console.source.ip.clone()];
    label.expected_alert = Some("admin-console-risky-sign-in");
    label.into_scenario(directory, written)
}

fn record_grant(grant: &Grant, directory: &Directory, log: &mut EventLog) -> Scenario {
    let actor = &directory.users[grant.actor];
    let grantee = &directory.users[grant.grantee];
    let origin = origin_of(directory, grant.actor);
    let mut written = Written::default();
    written.push(
        log,
        Draft {
            legacy_event_type: Some("core.user.admin_privilege.granted"),
            origin: Some(origin),
            targets: vec![
                user_target(grantee),
                Target::new("ROLE_ASSIGNED", "ROLE_ASSIGNED", "unknown", "Role Assigned"),
                Target::new("OrgAdmin", "ROLE", "unknown", "Organization Administrator"),
            ],
            request_url: Some(format!("/api/v1/users/{}/roles", grantee.id)),
            debug: vec![("privilegeGranted", json!(ORG_ADMIN.granted_text))],
            ..Draft::new(
                grant.at,
                "user.account.privilege.grant",
                "Grant user privilege",
                Actor::user(actor),
            )
        },
    );
    let description = format!(
        "`{}` ({}), who holds no admin role, granted the organization administrator role to `{}`",
        actor.profile.login, actor.profile.title, grantee.profile.login,
    );
    let mut label = Label::new(
        ScenarioKind::PrivilegeGrantByNonAdmin,
        description,
        vec![grant.grantee, grant.actor],
    );
    label.ips = vec![origin.ip.to_string()];
    label.expected_alert = Some("admin-privilege-grant");
    label.into_scenario(directory, written)
}

fn record_token(token: &Token, directory: &Directory, log: &mut EventLog) -> Scenario {
    let admin = &directory.users[token.admin];
    let origin = origin_of(directory, token.admin);
    let mut written = Written::default();
    written.push(
        log,
        Draft {
            legacy_event_type: Some("api.token.create"),
            origin: Some(origin),
            targets: vec![Target::new(&token.id, "Token", "unknown", token.name)],
            request_url: Some("/api/internal/tokens".to_string()),
            ..Draft::new(
                token.at,
                "system.api_token.create",
                "Create API token",
                Actor::user(admin),
            )
        },
    );
    let description = format!(
        "`{}` created the API token `{}` ({})",
        admin.profile.login, token.name, token.id,
    );
    let mut label = Label::new(
        ScenarioKind::ApiTokenCreated,
        description,
        vec![token.admin],
    );
    label.ips = vec![origin.ip.to_string()];
    label.expected_alert = Some("api-token-created");
    label.into_scenario(directory, written)
}

fn record_reset(reset: &FactorReset, directory: &Directory, log: &mut EventLog) -> Scenario {
    let admin = &directory.users[reset.admin];
    let user = &directory.users[reset.user];
    let origin = origin_of(directory, reset.admin);
    let mut written = Written::default();
    written.push(
        log,
        Draft {
            legacy_event_type: Some("core.user.factor.reset_all"),
            origin: Some(origin),
            targets: vec![user_target(user)],
            request_url: Some(format!("/api/v1/users/{}/lifecycle/reset_factors", user.id)),
            ..Draft::new(
                reset.at,
                "user.mfa.factor.reset_all",
                "Reset all factors for user",
                Actor::user(admin),
            )
        },
    );
    let description = format!(
        "`{}` reset every factor of `{}`, who enrolled none again",
        admin.profile.login, user.profile.login,
    );
    let mut label = Label::new(
        ScenarioKind::MfaResetNotReenrolled,
        description,
        vec![reset.user, reset.admin],
    );
    label.ips = vec![origin.ip.to_string()];
    label.expected_alert = Some("mfa-reset-not-reenrolled");
    label.into_scenario(directory, written)
}

fn record_policy(policy: &PolicyChange, directory: &Directory, log: &mut EventLog) -> Scenario {
    let admin = &directory.users[policy.admin];
    let origin = origin_of(directory, policy.admin);
    let policy_id = derived_object_id("00p", "default-sign-on-policy");
    let rule_id = derived_object_id("0pr", "default-sign-on-policy/off-network-mfa");
    let rule_name = "Require MFA off the corporate network";
    let rule = Target::new(&rule_id, "PolicyRule", "unknown", rule_name).with_detail(json!({
        "policyType": "OKTA_SIGN_ON",
        "policyRuleFactorMode": "1FA",
    }));
    let mut written = Written::default();
    written.push(
        log,
        Draft {
            origin: Some(origin),
            targets: vec![
                rule,
                Target::new(&policy_id, "PolicyEntity", "unknown", "Default Policy"),
            ],
            request_url: Some(format!("/api/v1/policies/{policy_id}/rules/{rule_id}")),
            ..Draft::new(
                policy.at,
                "policy.rule.update",
                "Update policy rule",
                Actor::user(admin),
            )
        },
    );
    let description = format!(
        "`{}` changed the sign-on policy rule `{rule_name}` to ask for the password only",
        admin.profile.login,
    );
    let mut label = Label::new(
        ScenarioKind::PolicyChangeByPerson,
        description,
        vec![policy.admin],
    );
    label.ips = vec![origin.ip.to_string()];
    label.expected_alert = Some("policy-change-by-person");
    label.into_scenario(directory, written)
}

fn record_threat(threat: &Threat, directory: &Directory, log: &mut EventLog) -> Scenario {
    let result = if threat.blocked { "DENY" } else { "ALLOW" };
    let mut written = Written::default();
    for &at in &threat.times {
        written.push(
            log,
            Draft {
                severity: "WARN",
                origin: Some(threat.source.origin()),
                result,
                reason: Some("Login failures with high unknown users count"),
                request_url: Some("/idp/idx/identify".to_string()),
                threat_suspected: true,
                debug: vec![(
                    "threatDetections",
                    json!("{\"Login failures with high unknown users count\":\"HIGH\"}"),
                )],
                ..Draft::new(
                    at,
                    "security.threat.detected",
                    "Request from suspicious actor",
                    Actor::unknown(),
                )
            },
        );
    }
    let mode = if threat.blocked {
        "denied"
    } else {
        "logged only"
    };
    let description = format!(
        "ThreatInsight flagged {} requests from `{}` ({}) and {mode} them",
        threat.times.len(),
        threat.source.ip,
        threat.source.network.as_org,
    );
    let mut label = Label::new(
        ScenarioKind::ThreatinsightDetection,
        description,
        Vec::new(),
    );
    label.ips = vec![threat.source.ip.clone()];
    label.expected_alert = Some("threatinsight-detection");
    label.into_scenario(directory, written)
}
