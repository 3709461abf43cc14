//! Labelled sign-in attacks on ordinary users, planned after the first four scenarios.
//!
//! - `password_spray_distributed`: 30 to 40 users tried once each within 25 minutes from
//!   addresses of one hosting network, at most four users per address, so that only the
//!   per-network rule matches it. Expected alert `password-spray-asn`.
//! - `brute_force_then_success`: four to seven wrong passwords for one user from one
//!   address abroad, then a successful sign-in from it minutes later. Expected alert
//!   `failures-then-success`.
//! - `credential_stuffing`: 60 to 80 users tried once each within nine minutes from four
//!   addresses in different hosting networks. Expected alert `credential-stuffing`.
//! - `mfa_push_fatigue_classic` and `mfa_push_fatigue_identity_engine`: three to six
//!   rejected Okta Verify pushes within eight minutes, then an accepted one and a session.
//!   Classic engine orgs log the rejection as `user.mfa.okta_verify.deny_push`, Identity
//!   Engine orgs as a failed `user.authentication.auth_via_mfa`. Expected alert
//!   `mfa-push-fatigue`.
//! - `impossible_travel`: a sign-in from home, then one from a city more than 5,000 km
//!   away 20 to 50 minutes later. Expected alert `impossible-travel`.
//! - `session_from_two_networks`: a sign-in from home whose session is then used for app
//!   sign-ons from two hosting networks within the hour. Expected alert
//!   `session-from-two-networks`.
//! - `user_reported_suspicious_activity`: a sign-in from a hosting network abroad that the
//!   user reports from home an hour or two later. Expected alert
//!   `user-reported-suspicious-activity`.
//!
//! Scenario thresholds are checked against the planted events, so an org too small to
//! reach a rule's threshold gets the scenario without an expected alert.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::catalog::{BROWSERS, DATACENTERS, HOME_CITIES, SCRIPT_BROWSER, SPRAY_BROWSER};
use super::directory::Directory;
use super::events::{
    Actor, Draft, EventLog, app_instance_target, app_target, app_user_target, failed_sign_in,
    push_verification, successful_sign_in, user_target,
};
use super::lifecycle::origin_of;
use super::scenarios::{Label, PlanContext, Source, Written, max_distinct_within};
use super::{Scenario, ScenarioKind};
use crate::model::AppStatus;
use crate::time::format_okta;

/// Distinct users failing from one network within thirty minutes that `password-spray-asn`
/// alerts on.
const ASN_SPRAY_RULE_USERS: usize = 25;
/// Most users the distributed spray tries from one address, below the per-address rule.
const DISTRIBUTED_USERS_PER_ADDRESS: usize = 4;
/// Distinct users failing org-wide within ten minutes that `credential-stuffing` alerts on.
const STUFFING_RULE_USERS: usize = 50;
/// Hosting networks the credential stuffing comes from, one address each. Four networks
/// keep each under the 25 users of `password-spray-asn`, so only the org-wide rule and the
/// per-address rule see it.
const STUFFING_NETWORKS: usize = 4;
/// Distance the impossible-travel scenario covers at least, in kilometres.
const TRAVEL_MIN_KM: f64 = 5000.0;

/// The sign-in attacks chosen for an org; a kind not selected is `None`.
#[derive(Default)]
pub(crate) struct Plan {
    distributed_spray: Option<Spray>,
    failures_then_success: Option<FailuresThenSuccess>,
    stuffing: Option<Spray>,
    push_fatigue_classic: Option<PushFatigue>,
    push_fatigue_identity_engine: Option<PushFatigue>,
    travel: Option<Travel>,
    session_replay: Option<SessionReplay>,
    report: Option<Report>,
}

/// Failed sign-ins from several sources: user, index into `sources`, time.
struct Spray {
    sources: Vec<Source>,
    attempts: Vec<(usize, usize, DateTime<Utc>)>,
}

struct FailuresThenSuccess {
    user: usize,
    source: Source,
    failures: Vec<DateTime<Utc>>,
    success: DateTime<Utc>,
}

struct PushFatigue {
    user: usize,
    source: Source,
    rejections: Vec<DateTime<Utc>>,
    accepted: DateTime<Utc>,
}

struct Travel {
    user: usize,
    home_at: DateTime<Utc>,
    away: Source,
    away_at: DateTime<Utc>,
}

struct SessionReplay {
    user: usize,
    signed_in: DateTime<Utc>,
    app: Option<usize>,
    replays: Vec<(Source, DateTime<Utc>)>,
}

struct Report {
    user: usize,
    intruder: Source,
    intrusion_at: DateTime<Utc>,
    reported_at: DateTime<Utc>,
}

/// Plans every sign-in attack and keeps the selected ones.
pub(crate) fn plan(context: &mut PlanContext<'_>, directory: &Directory) -> Plan {
    let distributed_spray = plan_distributed_spray(context, directory);
    let failures_then_success = plan_failures_then_success(context, directory);
    let stuffing = plan_stuffing(context, directory);
    let push_fatigue_classic = plan_push_fatigue(context, directory);
    let push_fatigue_identity_engine = plan_push_fatigue(context, directory);
    let travel = plan_travel(context, directory);
    let session_replay = plan_session_replay(context, directory);
    let report = plan_report(context, directory);
    let keep = |kind| context.selects(kind);
    Plan {
        distributed_spray: distributed_spray
            .filter(|_| keep(ScenarioKind::PasswordSprayDistributed)),
        failures_then_success: failures_then_success
            .filter(|_| keep(ScenarioKind::BruteForceThenSuccess)),
        stuffing: stuffing.filter(|_| keep(ScenarioKind::CredentialStuffing)),
        push_fatigue_classic: push_fatigue_classic
            .filter(|_| keep(ScenarioKind::MfaPushFatigueClassic)),
        push_fatigue_identity_engine: push_fatigue_identity_engine
            .filter(|_| keep(ScenarioKind::MfaPushFatigueIdentityEngine)),
        travel: travel.filter(|_| keep(ScenarioKind::ImpossibleTravel)),
        session_replay: session_replay.filter(|_| keep(ScenarioKind::SessionFromTwoNetworks)),
        report: report.filter(|_| keep(ScenarioKind::UserReportedSuspiciousActivity)),
    }
}

/// Returns the ISO country code of a user's home city.
fn home_country(directory: &Directory, user: usize) -> &'static str {
    HOME_CITIES[directory.personas[user].city]
        .place
        .country_code
}

/// Picks an address of a hosting network outside `country_code`.
fn foreign_source(
    rng: &mut ChaCha8Rng,
    country_code: &str,
    browser: &'static super::catalog::Browser,
) -> Source {
    let choices: Vec<usize> = (0..DATACENTERS.len())
        .filter(|&index| DATACENTERS[index].place.country_code != country_code)
        .collect();
    let datacenter = *choices.choose(rng).unwrap_or(&0);
    Source::datacenter(rng, datacenter, browser)
}

/// Picks `count` hosting networks with distinct AS numbers, as indices into `DATACENTERS`.
fn distinct_networks(rng: &mut ChaCha8Rng, count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..DATACENTERS.len()).collect();
    order.shuffle(rng);
    let mut chosen: Vec<usize> = Vec::new();
    for index in order {
        let as_number = DATACENTERS[index].network.as_number;
        if chosen
            .iter()
            .all(|&other| DATACENTERS[other].network.as_number != as_number)
        {
            chosen.push(index);
        }
    }
    chosen.truncate(count);
    chosen
}

/// Draws `count` sorted times within `span_ms` milliseconds after `start`.
fn times_within(
    rng: &mut ChaCha8Rng,
    start: DateTime<Utc>,
    span_ms: i64,
    count: usize,
) -> Vec<DateTime<Utc>> {
    let mut times: Vec<DateTime<Utc>> = (0..count)
        .map(|_| start + Duration::milliseconds(rng.gen_range(0..=span_ms)))
        .collect();
    times.sort_unstable();
    times
}

fn plan_distributed_spray(context: &mut PlanContext<'_>, directory: &Directory) -> Option<Spray> {
    let wanted = context.rng.gen_range(30..=40);
    let users = context.take_users(directory, wanted);
    if users.is_empty() {
        return None;
    }
    let datacenter = context.rng.gen_range(0..DATACENTERS.len());
    let address_count = users.len().div_ceil(DISTRIBUTED_USERS_PER_ADDRESS);
    let sources: Vec<Source> = (0..address_count)
        .map(|_| Source::datacenter(context.rng, datacenter, &SPRAY_BROWSER))
        .collect();
    let start = context.mid_window();
    let span_ms = context.rng.gen_range(15 * 60_000..25 * 60_000);
    let times = times_within(context.rng, start, span_ms, users.len());
    let attempts = users
        .iter()
        .zip(times)
        .enumerate()
        .map(|(index, (&user, at))| (user, index % address_count, at))
        .collect();
    Some(Spray { sources, attempts })
}

fn plan_failures_then_success(
    context: &mut PlanContext<'_>,
    directory: &Directory,
) -> Option<FailuresThenSuccess> {
    let user = context.take_user(directory)?;
    let source = foreign_source(context.rng, home_country(directory, user), &SCRIPT_BROWSER);
    let start = context.mid_window();
    let count = context.rng.gen_range(4..=7);
    let span_ms = context.rng.gen_range(3 * 60_000..8 * 60_000);
    let failures = times_within(context.rng, start, span_ms, count);
    let last = failures.last().copied().unwrap_or(start);
    let success = last + Duration::milliseconds(context.rng.gen_range(60_000..240_000));
    Some(FailuresThenSuccess {
        user,
        source,
        failures,
        success,
    })
}

fn plan_stuffing(context: &mut PlanContext<'_>, directory: &Directory) -> Option<Spray> {
    let wanted = context.rng.gen_range(60..=80);
    let users = context.take_users(directory, wanted);
    if users.is_empty() {
        return None;
    }
    let sources: Vec<Source> = distinct_networks(context.rng, STUFFING_NETWORKS)
        .into_iter()
        .map(|datacenter| Source::datacenter(context.rng, datacenter, &SCRIPT_BROWSER))
        .collect();
    if sources.is_empty() {
        return None;
    }
    let start = context.mid_window();
    let span_ms = context.rng.gen_range(6 * 60_000..9 * 60_000);
    let times = times_within(context.rng, start, span_ms, users.len());
    let attempts = users
        .iter()
        .zip(times)
        .enumerate()
        .map(|(index, (&user, at))| (user, index % sources.len(), at))
        .collect();
    Some(Spray { sources, attempts })
}

fn plan_push_fatigue(context: &mut PlanContext<'_>, directory: &Directory) -> Option<PushFatigue> {
    let user = context.take_user(directory)?;
    let source = foreign_source(context.rng, home_country(directory, user), &BROWSERS[0]);
    let start = context.mid_window();
    let count = context.rng.gen_range(3..=6);
    let span_ms = context.rng.gen_range(2 * 60_000..8 * 60_000);
    let rejections = times_within(context.rng, start, span_ms, count);
    let last = rejections.last().copied().unwrap_or(start);
    let accepted = last + Duration::milliseconds(context.rng.gen_range(20_000..90_000));
    Some(PushFatigue {
        user,
        source,
        rejections,
        accepted,
    })
}

fn plan_travel(context: &mut PlanContext<'_>, directory: &Directory) -> Option<Travel> {
    let user = context.take_user(directory)?;
    let home = &HOME_CITIES[directory.personas[user].city].place;
    let far: Vec<usize> = (0..HOME_CITIES.len())
        .filter(|&city| {
            let place = &HOME_CITIES[city].place;
            distance_km((home.lat, home.lon), (place.lat, place.lon)) > TRAVEL_MIN_KM
        })
        .collect();
    let city = *far.choose(context.rng)?;
    let browser = &BROWSERS[directory.personas[user].browser];
    let away = Source::city(context.rng, city, browser);
    let home_at = context.mid_window();
    let away_at = home_at + Duration::milliseconds(context.rng.gen_range(20 * 60_000..50 * 60_000));
    Some(Travel {
        user,
        home_at,
        away,
        away_at,
    })
}

fn plan_session_replay(
    context: &mut PlanContext<'_>,
    directory: &Directory,
) -> Option<SessionReplay> {
    let user = context.take_user(directory)?;
    let apps = reachable_apps(directory, user);
    let app = apps.choose(context.rng).copied();
    let signed_in = context.mid_window();
    let mut replays = Vec::new();
    for datacenter in distinct_networks(context.rng, 2) {
        let source = Source::datacenter(context.rng, datacenter, &BROWSERS[0]);
        let at =
            signed_in + Duration::milliseconds(context.rng.gen_range(10 * 60_000..50 * 60_000));
        replays.push((source, at));
    }
    replays.sort_by_key(|(_, at)| *at);
    Some(SessionReplay {
        user,
        signed_in,
        app,
        replays,
    })
}

fn plan_report(context: &mut PlanContext<'_>, directory: &Directory) -> Option<Report> {
    let user = context.take_user(directory)?;
    let intruder = foreign_source(context.rng, home_country(directory, user), &SPRAY_BROWSER);
    let intrusion_at = context.mid_window();
    let reported_at =
        intrusion_at + Duration::milliseconds(context.rng.gen_range(30 * 60_000..180 * 60_000));
    Some(Report {
        user,
        intruder,
        intrusion_at,
        reported_at,
    })
}

/// Returns the active apps a user can sign on to, directly or through a group.
pub(super) fn reachable_apps(directory: &Directory, user: usize) -> Vec<usize> {
    (0..directory.apps.len())
        .filter(|&app| {
            directory.apps[app].status == AppStatus::Active
                && directory.apps[app].name != "active_directory"
        })
        .filter(|&app| {
            directory.app_direct[app].contains(&user)
                || directory.app_groups[app]
                    .iter()
                    .any(|&group| directory.members[group].binary_search(&user).is_ok())
        })
        .collect()
}

/// Returns the great-circle distance in kilometres between two points in degrees.
fn distance_km(from: (f64, f64), to: (f64, f64)) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0;
    let (lat1, lon1) = (from.0.to_radians(), from.1.to_radians());
    let (lat2, lon2) = (to.0.to_radians(), to.1.to_radians());
    let half_chord = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * half_chord.sqrt().min(1.0).asin()
}

/// Writes the events of the planned attacks and returns their ground truth.
pub(crate) fn record(plan: &Plan, directory: &Directory, log: &mut EventLog) -> Vec<Scenario> {
    let mut scenarios = Vec::new();
    if let Some(spray) = &plan.distributed_spray {
        scenarios.push(record_distributed_spray(spray, directory, log));
    }
    if let Some(attack) = &plan.failures_then_success {
        scenarios.push(record_failures_then_success(attack, directory, log));
    }
    if let Some(spray) = &plan.stuffing {
        scenarios.push(record_stuffing(spray, directory, log));
    }
    if let Some(attack) = &plan.push_fatigue_classic {
        scenarios.push(record_push_fatigue(attack, directory, log, Engine::Classic));
    }
    if let Some(attack) = &plan.push_fatigue_identity_engine {
        scenarios.push(record_push_fatigue(
            attack,
            directory,
            log,
            Engine::Identity,
        ));
    }
    if let Some(travel) = &plan.travel {
        scenarios.push(record_travel(travel, directory, log));
    }
    if let Some(replay) = &plan.session_replay {
        scenarios.push(record_session_replay(replay, directory, log));
    }
    if let Some(report) = &plan.report {
        scenarios.push(record_report(report, directory, log));
    }
    scenarios
}

/// Writes one failed sign-in per attempt of a spray.
fn record_spray_attempts(spray: &Spray, directory: &Directory, log: &mut EventLog) -> Written {
    let mut written = Written::default();
    for &(user, source, at) in &spray.attempts {
        let origin = spray.sources[source].origin();
        let uuid = failed_sign_in(log, &directory.users[user], origin, at);
        written.note(uuid, at);
    }
    written
}

/// Returns the users of a spray's attempts, in the order first tried.
fn spray_users(spray: &Spray) -> Vec<usize> {
    let mut users = Vec::new();
    for &(user, _, _) in &spray.attempts {
        if !users.contains(&user) {
            users.push(user);
        }
    }
    users
}

fn spray_ips(spray: &Spray) -> Vec<String> {
    spray
        .sources
        .iter()
        .map(|source| source.ip.clone())
        .collect()
}

fn record_distributed_spray(spray: &Spray, directory: &Directory, log: &mut EventLog) -> Scenario {
    let written = record_spray_attempts(spray, directory, log);
    let attempts: Vec<(usize, DateTime<Utc>)> = spray
        .attempts
        .iter()
        .map(|&(user, _, at)| (user, at))
        .collect();
    let peak = max_distinct_within(&attempts, Duration::minutes(30));
    let network = spray.sources.first().map(|source| source.network);
    let description = format!(
        "{} failed sign-ins for {} users from {} addresses of AS{} ({}), at most {} users per address",
        attempts.len(),
        spray_users(spray).len(),
        spray.sources.len(),
        network.map_or(0, |network| network.as_number),
        network.map_or("", |network| network.as_org),
        DISTRIBUTED_USERS_PER_ADDRESS,
    );
    let mut label = Label::new(
        ScenarioKind::PasswordSprayDistributed,
        description,
        spray_users(spray),
    );
    label.ips = spray_ips(spray);
    label.expected_alert = (peak >= ASN_SPRAY_RULE_USERS).then_some("password-spray-asn");
    label.into_scenario(directory, written)
}

fn record_stuffing(spray: &Spray, directory: &Directory, log: &mut EventLog) -> Scenario {
    let written = record_spray_attempts(spray, directory, log);
    let attempts: Vec<(usize, DateTime<Utc>)> = spray
        .attempts
        .iter()
        .map(|&(user, _, at)| (user, at))
        .collect();
    let peak = max_distinct_within(&attempts, Duration::minutes(10));
    let description = format!(
        "{} users failed to sign in from {} addresses in different hosting networks, {} of them within ten minutes",
        spray_users(spray).len(),
        spray.sources.len(),
        peak,
    );
    let mut label = Label::new(
        ScenarioKind::CredentialStuffing,
        description,
        spray_users(spray),
    );
    label.ips = spray_ips(spray);
    label.expected_alert = (peak >= STUFFING_RULE_USERS).then_some("credential-stuffing");
    label.into_scenario(directory, written)
}

fn record_failures_then_success(
    attack: &FailuresThenSuccess,
    directory: &Directory,
    log: &mut EventLog,
) -> Scenario {
    let user = &directory.users[attack.user];
    let origin = attack.source.origin();
    let mut written = Written::default();
    for &at in &attack.failures {
        written.note(failed_sign_in(log, user, origin, at), at);
    }
    let session = log.new_session_id();
    let uuid = successful_sign_in(
        log,
        (user, &directory.dashboard_app_id),
        origin,
        (attack.success, session),
        Vec::new(),
    );
    written.note(uuid, attack.success);
    let description = format!(
        "{} wrong passwords for `{}` from `{}` ({}), then a successful sign-in from it",
        attack.failures.len(),
        user.profile.login,
        attack.source.ip,
        attack.source.place.country,
    );
    let mut label = Label::new(
        ScenarioKind::BruteForceThenSuccess,
        description,
        vec![attack.user],
    );
    label.ips = vec![attack.source.ip.clone()];
    label.expected_alert = Some("failures-then-success");
    label.into_scenario(directory, written)
}

/// Sign-in engine of an org, which decides how a rejected Okta Verify push is logged.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Engine {
    Classic,
    Identity,
}

/// Writes `system.push.send_factor_verify_push`, which Okta logs for every push it sends.
fn push_sent(
    log: &mut EventLog,
    user: &crate::model::User,
    source: &Source,
    (at, session): (DateTime<Utc>, String),
) -> String {
    log.push(Draft {
        origin: Some(source.origin()),
        session_id: Some(session),
        targets: vec![user_target(user)],
        request_url: Some("/idp/idx/challenge".to_string()),
        ..Draft::new(
            at,
            "system.push.send_factor_verify_push",
            "Push notification sent for verification",
            Actor::user(user),
        )
    })
}

fn record_push_fatigue(
    attack: &PushFatigue,
    directory: &Directory,
    log: &mut EventLog,
    engine: Engine,
) -> Scenario {
    let user = &directory.users[attack.user];
    let origin = attack.source.origin();
    let session = log.new_session_id();
    let mut written = Written::default();
    for &at in &attack.rejections {
        let sent_at = at - Duration::milliseconds(4_000);
        let uuid = push_sent(log, user, &attack.source, (sent_at, session.clone()));
        written.note(uuid, sent_at);
        let uuid = match engine {
            Engine::Classic => log.push(Draft {
                legacy_event_type: Some("core.user.factor.attempt_fail"),
                severity: "WARN",
                origin: Some(origin),
                session_id: Some(session.clone()),
                result: "FAILURE",
                reason: Some("User rejected Okta push verify"),
                targets: vec![user_target(user)],
                request_url: Some(format!("/api/v1/users/{}/factors/verify", user.id)),
                debug: vec![("factor", json!("OKTA_VERIFY_PUSH"))],
                ..Draft::new(
                    at,
                    "user.mfa.okta_verify.deny_push",
                    "User rejected Okta push verify",
                    Actor::user(user),
                )
            }),
            Engine::Identity => push_verification(log, user, origin, (at, session.clone()), false),
        };
        written.note(uuid, at);
    }
    let sent_at = attack.accepted - Duration::milliseconds(5_000);
    let uuid = push_sent(log, user, &attack.source, (sent_at, session.clone()));
    written.note(uuid, sent_at);
    let uuid = push_verification(log, user, origin, (attack.accepted, session.clone()), true);
    written.note(uuid, attack.accepted);
    let started = attack.accepted + Duration::milliseconds(1_500);
    let uuid = successful_sign_in(
        log,
        (user, &directory.dashboard_app_id),
        origin,
        (started, session),
        Vec::new(),
    );
    written.note(uuid, started);

    let (kind, form) = match engine {
        Engine::Classic => (
            ScenarioKind::MfaPushFatigueClassic,
            "`user.mfa.okta_verify.deny_push`",
        ),
        Engine::Identity => (
            ScenarioKind::MfaPushFatigueIdentityEngine,
            "failed `user.authentication.auth_via_mfa`",
        ),
    };
    let description = format!(
        "{} Okta Verify pushes to `{}` rejected ({form}) from `{}`, then one accepted and a session started",
        attack.rejections.len(),
        user.profile.login,
        attack.source.ip,
    );
    let mut label = Label::new(kind, description, vec![attack.user]);
    label.ips = vec![attack.source.ip.clone()];
    label.expected_alert = Some("mfa-push-fatigue");
    label.into_scenario(directory, written)
}

fn record_travel(travel: &Travel, directory: &Directory, log: &mut EventLog) -> Scenario {
    let user = &directory.users[travel.user];
    let home = origin_of(directory, travel.user);
    let mut written = Written::default();
    let session = log.new_session_id();
    let uuid = successful_sign_in(
        log,
        (user, &directory.dashboard_app_id),
        home,
        (travel.home_at, session),
        Vec::new(),
    );
    written.note(uuid, travel.home_at);
    let session = log.new_session_id();
    let uuid = successful_sign_in(
        log,
        (user, &directory.dashboard_app_id),
        travel.away.origin(),
        (travel.away_at, session),
        Vec::new(),
    );
    written.note(uuid, travel.away_at);
    let distance = distance_km(
        (home.place.lat, home.place.lon),
        (travel.away.place.lat, travel.away.place.lon),
    );
    let description = format!(
        "`{}` signed in from {} and {} minutes later from {}, {:.0} km away",
        user.profile.login,
        home.place.city,
        (travel.away_at - travel.home_at).num_minutes(),
        travel.away.place.city,
        distance,
    );
    let mut label = Label::new(
        ScenarioKind::ImpossibleTravel,
        description,
        vec![travel.user],
    );
    label.ips = vec![home.ip.to_string(), travel.away.ip.clone()];
    label.expected_alert = Some("impossible-travel");
    label.into_scenario(directory, written)
}

/// Writes a `user.authentication.sso` into `app`, or into the Okta Dashboard without one.
fn sign_on(
    log: &mut EventLog,
    directory: &Directory,
    (user, app): (usize, Option<usize>),
    origin: super::events::Origin<'_>,
    (at, session): (DateTime<Utc>, String),
) -> String {
    let account = &directory.users[user];
    let (targets, request_url) = match app {
        Some(app) => {
            let app = &directory.apps[app];
            (
                vec![app_target(app), app_user_target(account, app)],
                format!("/app/{}/{}/sso/saml", app.name, app.id),
            )
        }
        None => (
            vec![app_instance_target(
                &directory.dashboard_app_id,
                "Okta Dashboard",
                "OPENID_CONNECT",
            )],
            "/app/UserHome".to_string(),
        ),
    };
    log.push(Draft {
        legacy_event_type: Some("app.auth.sso"),
        origin: Some(origin),
        session_id: Some(session),
        targets,
        request_url: Some(request_url),
        debug: vec![("initiationType", json!("IDP_INITIATED"))],
        ..Draft::new(
            at,
            "user.authentication.sso",
            "User single sign on to app",
            Actor::user(account),
        )
    })
}

fn record_session_replay(
    replay: &SessionReplay,
    directory: &Directory,
    log: &mut EventLog,
) -> Scenario {
    let user = &directory.users[replay.user];
    let home = origin_of(directory, replay.user);
    let session = log.new_session_id();
    let mut written = Written::default();
    let uuid = successful_sign_in(
        log,
        (user, &directory.dashboard_app_id),
        home,
        (replay.signed_in, session.clone()),
        Vec::new(),
    );
    written.note(uuid, replay.signed_in);
    let first_sign_on = replay.signed_in + Duration::milliseconds(45_000);
    let uuid = sign_on(
        log,
        directory,
        (replay.user, replay.app),
        home,
        (first_sign_on, session.clone()),
    );
    written.note(uuid, first_sign_on);
    for (source, at) in &replay.replays {
        let uuid = sign_on(
            log,
            directory,
            (replay.user, replay.app),
            source.origin(),
            (*at, session.clone()),
        );
        written.note(uuid, *at);
    }
    let networks: Vec<String> = replay
        .replays
        .iter()
        .map(|(source, _)| format!("AS{}", source.network.as_number))
        .collect();
    let description = format!(
        "The session `{}` opened from home was used from {} within the hour",
        user.profile.login,
        networks.join(" and "),
    );
    let mut label = Label::new(
        ScenarioKind::SessionFromTwoNetworks,
        description,
        vec![replay.user],
    );
    label.ips = std::iter::once(home.ip.to_string())
        .chain(replay.replays.iter().map(|(source, _)| source.ip.clone()))
        .collect();
    label.apps = replay.app.into_iter().collect();
    label.expected_alert = Some("session-from-two-networks");
    label.into_scenario(directory, written)
}

fn record_report(report: &Report, directory: &Directory, log: &mut EventLog) -> Scenario {
    let user = &directory.users[report.user];
    let intruder = report.intruder.origin();
    let mut written = Written::default();
    let session = log.new_session_id();
    let intrusion = successful_sign_in(
        log,
        (user, &directory.dashboard_app_id),
        intruder,
        (report.intrusion_at, session),
        Vec::new(),
    );
    written.note(intrusion.clone(), report.intrusion_at);
    let home = origin_of(directory, report.user);
    let uuid = log.push(Draft {
        severity: "WARN",
        origin: Some(home),
        targets: vec![user_target(user)],
        debug: vec![
            ("suspiciousActivityEventId", json!(intrusion)),
            ("suspiciousActivityEventType", json!("user.session.start")),
            ("suspiciousActivityEventIp", json!(report.intruder.ip)),
            (
                "suspiciousActivityEventCity",
                json!(report.intruder.place.city),
            ),
            (
                "suspiciousActivityEventCountry",
                json!(report.intruder.place.country),
            ),
            (
                "suspiciousActivityTimestamp",
                json!(format_okta(report.intrusion_at)),
            ),
        ],
        ..Draft::new(
            report.reported_at,
            "user.account.report_suspicious_activity_by_enduser",
            "User report suspicious activity",
            Actor::user(user),
        )
    });
    written.note(uuid, report.reported_at);
    let description = format!(
        "`{}` reported a sign-in from `{}` ({}) that they did not make",
        user.profile.login, report.intruder.ip, report.intruder.place.country,
    );
    let mut label = Label::new(
        ScenarioKind::UserReportedSuspiciousActivity,
        description,
        vec![report.user],
    );
    label.ips = vec![report.intruder.ip.clone(), home.ip.to_string()];
    label.expected_alert = Some("user-reported-suspicious-activity");
    label.into_scenario(directory, written)
}
