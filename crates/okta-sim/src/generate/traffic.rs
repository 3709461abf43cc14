//! Benign sign-in traffic: for each user and day, maybe a sign-in in the user's local
//! morning from the home address, sometimes after one mistyped password, often with an
//! MFA check, followed by single sign-on into apps the user is assigned to.
//!
//! A user signs in at most once per local calendar day and mistypes at most once, a few
//! minutes before that sign-in. Sign-ins on different days are hours apart, so benign data
//! never has more than one failed `user.session.start` for a user within ten minutes, far
//! below the five that mark a brute-force attack.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::Window;
use super::catalog::{BROWSERS, HOME_CITIES};
use super::directory::{Directory, UserApps};
use super::events::{
    Actor, Credential, Draft, EventLog, Origin, app_instance_target, app_target, app_user_target,
    authenticator_target, failed_sign_in,
};
use crate::model::{App, User};

/// Chance that a user signs in on a workday, per cent.
const WORKDAY_SIGN_IN_PERCENT: u32 = 65;
/// Chance that a user signs in on a weekend day, per cent.
const WEEKEND_SIGN_IN_PERCENT: u32 = 5;
/// Chance that a sign-in follows one mistyped password, per cent.
const TYPO_PERCENT: u32 = 3;
/// Chance that a sign-in requires a second factor, per cent.
const MFA_PERCENT: u32 = 55;
/// Chances, per cent, of at least one and of two app sign-ons after a sign-in.
const SSO_PERCENTS: [u32; 2] = [75, 30];

/// When a sign-in happens and the bounds its surrounding events must stay within.
#[derive(Clone, Copy)]
struct Slot {
    at: DateTime<Utc>,
    not_before: DateTime<Utc>,
    until: DateTime<Utc>,
}

/// Writes the benign traffic of every user and updates each user's `lastLogin`.
pub(crate) fn record(
    window: &Window,
    directory: &mut Directory,
    log: &mut EventLog,
    rng: &mut ChaCha8Rng,
) {
    if window.is_empty() {
        return;
    }
    let apps_by_user = directory.apps_by_user();
    let first_day = (window.start - Duration::days(1)).date_naive();
    let last_day = (window.end + Duration::days(1)).date_naive();
    for day in first_day.iter_days().take_while(|day| *day <= last_day) {
        for user in 0..directory.users.len() {
            let Some((from, until)) = directory.personas[user].activity else {
                continue;
            };
            let Some(at) = draw_sign_in_time(
                rng,
                day,
                HOME_CITIES[directory.personas[user].city]
                    .place
                    .utc_offset_minutes,
            ) else {
                continue;
            };
            if window.contains(at) && from <= at && at < until {
                let slot = Slot {
                    at,
                    not_before: from.max(window.start),
                    until: until.min(window.end),
                };
                sign_in(rng, directory, apps_by_user.of(user), log, user, slot);
                let last_login = &mut directory.users[user].last_login;
                *last_login = Some(last_login.map_or(at, |previous| previous.max(at)));
            }
        }
    }
}

/// Draws the time of a user's sign-in on a local calendar day, or `None` for a day off.
fn draw_sign_in_time(
    rng: &mut ChaCha8Rng,
    day: NaiveDate,
    utc_offset_minutes: i32,
) -> Option<DateTime<Utc>> {
    let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
    let (percent, first_minute, spread_minutes) = if weekend {
        (WEEKEND_SIGN_IN_PERCENT, 9 * 60, 600)
    } else {
        (WORKDAY_SIGN_IN_PERCENT, 7 * 60 + 30, 180)
    };
    if rng.gen_range(0..100) >= percent {
        return None;
    }
    let local_midnight = day.and_time(NaiveTime::MIN).and_utc();
    let offset = Duration::minutes(i64::from(first_minute + rng.gen_range(0..spread_minutes)))
        + Duration::seconds(rng.gen_range(0..60))
        + Duration::milliseconds(rng.gen_range(0..1000));
    Some(local_midnight + offset - Duration::minutes(i64::from(utc_offset_minutes)))
}

/// Writes one sign-in and the app sign-ons that follow it.
fn sign_in(
    rng: &mut ChaCha8Rng,
    directory: &Directory,
    apps: UserApps<'_>,
    log: &mut EventLog,
    user_index: usize,
    slot: Slot,
) {
    let persona = &directory.personas[user_index];
    let city = &HOME_CITIES[persona.city];
    let sign_in = SignIn {
        directory,
        user: &directory.users[user_index],
        origin: Origin {
            ip: &persona.ip,
            place: &city.place,
            network: &city.network,
            browser: &BROWSERS[persona.browser],
        },
        session: log.new_session_id(),
        slot,
    };
    sign_in.mistype_password(rng, log);
    sign_in.verify_factor(rng, log);
    sign_in.start_session(log);
    sign_in.sign_on_to_apps(rng, log, apps);
}

/// One sign-in being written: who signs in, from where, in which session and when.
struct SignIn<'a> {
    directory: &'a Directory,
    user: &'a User,
    origin: Origin<'a>,
    session: String,
    slot: Slot,
}

impl SignIn<'_> {
    /// Sometimes writes a failed attempt with a mistyped password shortly before.
    fn mistype_password(&self, rng: &mut ChaCha8Rng, log: &mut EventLog) {
        if rng.gen_range(0..100) >= TYPO_PERCENT {
            return;
        }
        let mistyped_at = self.slot.at - Duration::milliseconds(rng.gen_range(30_000..180_000));
        if mistyped_at >= self.slot.not_before {
            failed_sign_in(log, self.user, self.origin, mistyped_at);
        }
    }

    /// Often writes a successful second-factor check just before the session starts.
    fn verify_factor(&self, rng: &mut ChaCha8Rng, log: &mut EventLog) {
        let verified_at = self.slot.at - Duration::milliseconds(rng.gen_range(3_000..20_000));
        if rng.gen_range(0..100) >= MFA_PERCENT || verified_at < self.slot.not_before {
            return;
        }
        let factor = *["OKTA_VERIFY_PUSH", "SIGNED_NONCE", "TOTP"]
            .choose(rng)
            .unwrap_or(&"OKTA_VERIFY_PUSH");
        log.push(Draft {
            legacy_event_type: Some("core.user.factor.attempt_success"),
            origin: Some(self.origin),
            session_id: Some(self.session.clone()),
            credential: Credential::OneTimePassword,
            targets: vec![authenticator_target(self.user, "Okta Verify")],
            request_url: Some("/idp/idx/challenge/answer".to_string()),
            debug: vec![
                ("factor", json!(factor)),
                ("factorIntent", json!("AUTHENTICATION")),
            ],
            ..Draft::new(
                verified_at,
                "user.authentication.auth_via_mfa",
                "Authentication of user via MFA",
                Actor::user(self.user),
            )
        });
    }

    fn start_session(&self, log: &mut EventLog) {
        let dashboard = app_instance_target(
            &self.directory.dashboard_app_id,
            "Okta Dashboard",
            "OPENID_CONNECT",
        );
        log.push(Draft {
            legacy_event_type: Some("core.user_auth.login_success"),
            origin: Some(self.origin),
            session_id: Some(self.session.clone()),
            credential: Credential::Password,
            targets: vec![authenticator_target(self.user, "Password"), dashboard],
            request_url: Some("/idp/idx/identify".to_string()),
            ..Draft::new(
                self.slot.at,
                "user.session.start",
                "User login to Okta",
                Actor::user(self.user),
            )
        });
    }

    /// Writes zero to two sign-ons into apps the user is assigned to, within the slot.
    fn sign_on_to_apps(&self, rng: &mut ChaCha8Rng, log: &mut EventLog, apps: UserApps<'_>) {
        let roll = rng.gen_range(0..100);
        let count = SSO_PERCENTS
            .iter()
            .filter(|&&percent| roll < percent)
            .count();
        for _ in 0..count {
            let Some(app_index) = apps.choose(rng) else {
                break;
            };
            let sso_at =
                self.slot.at + Duration::milliseconds(rng.gen_range(10_000..8 * 3_600_000));
            if sso_at < self.slot.until {
                self.sign_on(rng, log, &self.directory.apps[app_index], sso_at);
            }
        }
    }

    fn sign_on(&self, rng: &mut ChaCha8Rng, log: &mut EventLog, app: &App, at: DateTime<Utc>) {
        let (protocol, path) = match app.sign_on_mode.as_str() {
            "SAML_2_0" => ("SAML 2.0", "sso/saml"),
            "OPENID_CONNECT" => ("OpenID Connect", "sso/oidc"),
            "WS_FEDERATION" => ("WS-Federation", "sso/wsfed/passive"),
            "BROWSER_PLUGIN" => ("Secure Web Authentication", "sso/swa"),
            _ => ("Bookmark", "sso/bookmark"),
        };
        let initiation = if rng.gen_range(0..100) < 60 {
            "IDP_INITIATED"
        } else {
            "SP_INITIATED"
        };
        log.push(Draft {
            legacy_event_type: Some("app.auth.sso"),
            origin: Some(self.origin),
            session_id: Some(self.session.clone()),
            targets: vec![app_target(app), app_user_target(self.user, app)],
            request_url: Some(format!("/app/{}/{}/{path}", app.name, app.id)),
            debug: vec![
                ("signOnMode", json!(protocol)),
                ("initiationType", json!(initiation)),
            ],
            ..Draft::new(
                at,
                "user.authentication.sso",
                "User single sign on to app",
                Actor::user(self.user),
            )
        });
    }
}
