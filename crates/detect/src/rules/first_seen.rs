//! `new-country-for-user`, `new-asn-for-user` and `new-device-for-user`: a
//! successful sign-in from a country, network (ASN) or device the user has
//! not used before.
//!
//! Sigma cannot keep a per-user history, so these rules are native. Each
//! user's baseline is learnt from their successful `user.session.start`
//! events. A value is alerted on only once the user's baseline is older than
//! `learning` and contains at least `min_sign_ins` sign-ins, so new users and
//! the first weeks of data do not raise alerts for everything.
//!
//! The three rules of [`super::native`] keep their baselines in one shared
//! table, so that a sign-in costs one digest of the user's name instead of
//! three, and the three lookups reach one table entry. Each rule still keeps
//! its own baseline in that entry, so each learns, forgets and alerts as it
//! would alone.

use std::cell::RefCell;
use std::rc::Rc;

use chrono::{DateTime, Duration, Utc};
use idaudit_store::{Alert, AlertStatus};
use rustc_hash::FxHashMap;
use serde_json::json;
use smallvec::SmallVec;

use super::Rule;
use crate::alert_id;
use crate::event::Event;

/// The sign-in attribute a baseline is kept for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attribute {
    Country,
    Asn,
    /// The operating system and browser Okta parsed from the user agent.
    Device,
}

impl Attribute {
    /// Returns the position of the attribute's baseline in [`UserBaselines`].
    fn index(self) -> usize {
        match self {
            Attribute::Country => 0,
            Attribute::Asn => 1,
            Attribute::Device => 2,
        }
    }

    fn rule_id(self) -> &'static str {
        match self {
            Attribute::Country => "new-country-for-user",
            Attribute::Asn => "new-asn-for-user",
            Attribute::Device => "new-device-for-user",
        }
    }

    /// Returns the word that names a value in an alert's title.
    fn noun(self) -> &'static str {
        match self {
            Attribute::Country => "country",
            Attribute::Asn => "network (ASN)",
            Attribute::Device => "device",
        }
    }

    /// Appends the event's value to `buffer`; returns false when it has none.
    fn read(self, event: &Event, buffer: &mut String) -> bool {
        match self {
            Attribute::Country => event.country().map(|country| buffer.push_str(country)),
            Attribute::Asn => return event.write_asn(buffer),
            Attribute::Device => event.text("client.userAgent.os").map(|os| {
                let browser = event.text("client.userAgent.browser").unwrap_or("UNKNOWN");
                buffer.push_str(os);
                buffer.push_str(" / ");
                buffer.push_str(browser);
            }),
        }
        .is_some()
    }
}

/// One user's sign-in history, with times in seconds after the rule's
/// first sign-in ([`FirstSeen::epoch`]). Users and values are kept by
/// digest rather than as text, so a baseline takes about 50 bytes, and an
/// org of 100,000 users keeps one for each.
struct Baseline {
    since: i32,
    last: i32,
    sign_ins: u32,
    /// The low 32 bits of each value's digest, with when it was last seen: a
    /// new value is taken for one of a user's (at most 64) known values with
    /// a probability under 2^-26. Most users have one or two values, which
    /// fit in the baseline itself.
    seen: SmallVec<[(u32, i32); 2]>,
}

/// One user's baselines, one per [`Attribute`] at [`Attribute::index`].
type UserBaselines = [Option<Baseline>; 3];

/// Baselines of the first-seen rules, by the digest of the lower-cased
/// user name, with the digest of the last user name looked up.
struct BaselineTable {
    users: FxHashMap<u64, UserBaselines>,
    /// The user name of the last lookup, as the event spells it, and the
    /// digest of its lower-cased form. The rules of one event look up the
    /// same name one after another, so only the first computes the digest.
    last_name: String,
    last_digest: u64,
}

impl Default for BaselineTable {
    fn default() -> BaselineTable {
        BaselineTable {
            users: FxHashMap::default(),
            last_name: String::new(),
            last_digest: super::digest(""),
        }
    }
}

impl BaselineTable {
    /// Returns the digest of the lower-cased `user`.
    fn user_digest(&mut self, user: &str) -> u64 {
        if self.last_name != user {
            self.last_digest = super::digest(&super::lower(user));
            self.last_name.clear();
            self.last_name.push_str(user);
        }
        self.last_digest
    }
}

pub struct FirstSeen {
    attribute: Attribute,
    learning: Duration,
    min_sign_ins: u64,
    /// Baselines of this rule, at [`Attribute::index`] in each user's
    /// entry, possibly shared with the rules for the other attributes.
    table: Rc<RefCell<BaselineTable>>,
    /// Seconds since the Unix epoch of the first sign-in observed, from
    /// which baselines count their times in 32 bits (68 years either way).
    epoch: Option<i64>,
    /// Buffer for the value read from an event.
    value: String,
    /// Event time of the last removal of forgotten values and users.
    swept: Option<DateTime<Utc>>,
}

/// How long a value, or a whole user, is remembered without being seen.
/// A country last used more than 90 days ago counts as new again, and a
/// user who has not signed in for 90 days learns again from scratch. This
/// limits the baselines of a long run to the users and values of one
/// quarter.
const FORGET_AFTER_DAYS: i64 = 90;

/// Values kept per user. Past this, the value seen longest ago is dropped,
/// so one user with ever-changing values (a scanner rotating user agents)
/// cannot grow the baseline without bound.
const MAX_VALUES_PER_USER: usize = 64;

impl FirstSeen {
    /// Fourteen days and ten sign-ins of learning: two working weeks cover
    /// a user's usual places and devices, including weekly travel.
    pub fn new(attribute: Attribute) -> FirstSeen {
        FirstSeen::with_table(attribute, Rc::default())
    }

    /// Returns the rules for the country, the ASN and the device, in that
    /// order, with one table of baselines for the three. They raise the
    /// alerts that three rules made with [`FirstSeen::new`] raise.
    pub fn sharing_baselines() -> [FirstSeen; 3] {
        let table = Rc::default();
        [Attribute::Country, Attribute::Asn, Attribute::Device]
            .map(|attribute| FirstSeen::with_table(attribute, Rc::clone(&table)))
    }

    fn with_table(attribute: Attribute, table: Rc<RefCell<BaselineTable>>) -> FirstSeen {
        FirstSeen {
            attribute,
            learning: Duration::days(14),
            min_sign_ins: 10,
            table,
            epoch: None,
            value: String::new(),
            swept: None,
        }
    }

    /// Forgets values and users not seen for [`FORGET_AFTER_DAYS`]. A user
    /// entry is removed once no rule sharing the table has a baseline in it.
    fn forget(&mut self, now: DateTime<Utc>) {
        let horizon = Duration::days(FORGET_AFTER_DAYS).num_seconds();
        let now = i64::from(self.offset(now));
        let index = self.attribute.index();
        self.table.borrow_mut().users.retain(|_, baselines| {
            if let Some(baseline) = &mut baselines[index] {
                baseline
                    .seen
                    .retain(|(_, last)| now - i64::from(*last) <= horizon);
                if now - i64::from(baseline.last) > horizon {
                    baselines[index] = None;
                }
            }
            baselines.iter().any(Option::is_some)
        });
    }

    /// Returns `time` in seconds after [`FirstSeen::epoch`], setting the
    /// epoch on the first call. Times more than 68 years away saturate.
    fn offset(&mut self, time: DateTime<Utc>) -> i32 {
        let seconds = time.timestamp();
        let epoch = *self.epoch.get_or_insert(seconds);
        let offset = seconds.saturating_sub(epoch);
        i32::try_from(offset).unwrap_or(if offset < 0 { i32::MIN } else { i32::MAX })
    }
}

impl Rule for FirstSeen {
    fn id(&self) -> &str {
        self.attribute.rule_id()
    }

    fn fields(&self) -> Option<Vec<String>> {
        Some(vec![
            "client.userAgent.os".to_string(),
            "client.userAgent.browser".to_string(),
        ])
    }

    fn event_types_read(&self) -> Vec<String> {
        super::owned(&["user.session.start"])
    }

    fn fields_for(&self, event_type: Option<&str>) -> Option<Vec<String>> {
        super::fields_on(
            event_type,
            &["user.session.start"],
            &[
                "client.userAgent.os",
                "client.userAgent.browser",
                "client.geographicalContext.country",
            ],
        )
    }

    fn is_about_people(&self) -> bool {
        true
    }

    fn observe(&mut self, event: &Event, alerts: &mut Vec<Alert>) {
        if event.event_type != "user.session.start" || !event.outcome_is("SUCCESS") {
            return;
        }
        let mut value = std::mem::take(&mut self.value);
        value.clear();
        let read = self.attribute.read(event, &mut value);
        let (Some(time), Some(user), true) = (event.published, event.actor_name(), read) else {
            self.value = value;
            return;
        };
        self.observe_value(event, time, user, &value, alerts);
        self.value = value;
    }

    fn finish(&mut self, _alerts: &mut Vec<Alert>) {}
}

impl FirstSeen {
    fn observe_value(
        &mut self,
        event: &Event,
        time: DateTime<Utc>,
        user: &str,
        value: &str,
        alerts: &mut Vec<Alert>,
    ) {
        if super::sweep_due(&mut self.swept, time, Duration::days(7)) {
            self.forget(time);
        }
        let seconds = self.offset(time);
        let mut table = self.table.borrow_mut();
        let digest = table.user_digest(user);
        let baselines = table.users.entry(digest).or_default();
        let baseline = baselines[self.attribute.index()].get_or_insert_with(|| Baseline {
            since: seconds,
            last: seconds,
            sign_ins: 0,
            seen: SmallVec::new(),
        });
        let learnt = i64::from(seconds) - i64::from(baseline.since) >= self.learning.num_seconds()
            && u64::from(baseline.sign_ins) >= self.min_sign_ins;
        baseline.sign_ins = baseline.sign_ins.saturating_add(1);
        baseline.last = seconds;
        // The low 32 bits, as documented at `Baseline::seen`.
        let value_digest = super::digest(value) as u32;
        if let Some((_, last)) = baseline
            .seen
            .iter_mut()
            .find(|(seen, _)| *seen == value_digest)
        {
            *last = seconds;
            return;
        }
        if baseline.seen.len() >= MAX_VALUES_PER_USER {
            let oldest = (0..baseline.seen.len()).min_by_key(|&index| baseline.seen[index].1);
            if let Some(oldest) = oldest {
                baseline.seen.swap_remove(oldest);
            }
        }
        baseline.seen.push((value_digest, seconds));
        if !learnt {
            return;
        }
        let known = baseline.seen.len() - 1;
        drop(table);
        let user = super::lower(user);
        let rule = self.attribute.rule_id();
        let stamp = idaudit_store::format_time(time);
        alerts.push(Alert {
            id: alert_id(rule, &user, &event.uuid),
            rule: rule.to_string(),
            severity: "medium".to_string(),
            title: format!(
                "First sign-in of {user} from {} `{value}`",
                self.attribute.noun()
            ),
            user: Some(user.into_owned()),
            ip: event.client_ip().map(str::to_string),
            first_seen: stamp.clone(),
            last_seen: stamp,
            count: 1,
            evidence: vec![event.uuid.clone()],
            details: json!({
                "value": value,
                "knownValues": known,
                "techniques": ["T1078.004"],
            }),
            status: AlertStatus::Open,
        });
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};
    use idaudit_store::Alert;
    use serde_json::json;

    use super::{Attribute, FirstSeen, MAX_VALUES_PER_USER};
    use crate::event::Event;
    use crate::rules::Rule;
    use crate::rules::digest;

    fn sign_in(login: &str, country: &str, day: i64) -> Event {
        let time = Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap() + Duration::days(day);
        Event::from_value(json!({
            "uuid": format!("{login}-{day}"),
            "published": idaudit_store::format_time(time),
            "eventType": "user.session.start",
            "actor": {"type": "User", "alternateId": login},
            "client": {"geographicalContext": {"country": country}},
            "outcome": {"result": "SUCCESS"}
        }))
        .unwrap()
    }

    /// Returns a sign-in of day `step / 8` with values picked by a hash of
    /// `step` (one step of a linear congruential generator) from sets that
    /// grow over the year, so that values repeat, new ones appear and some
    /// are missing.
    fn varied_sign_in(step: u64) -> Event {
        let random = |salt: u64| {
            (step.wrapping_add(salt))
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407)
                >> 33
        };

        // Users 3 to 5 start no session from day 60 to day 180, longer than
        // baselines are kept, and user 6 spells their login in two cases.
        let number = random(1) % 8;
        let day = (step / 8) as i64;
        let login = match number {
            6 if step.is_multiple_of(2) => "User6@Example.com".to_string(),
            _ => format!("user{number}@example.com"),
        };
        let event_type = if (3..6).contains(&number) && (60..180).contains(&day) {
            "user.authentication.sso"
        } else {
            "user.session.start"
        };
        let time = Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap()
            + Duration::days(day)
            + Duration::minutes((step % 8) as i64);

        let new_values = day as u64 / 40;
        let mut client = json!({"userAgent": {}, "geographicalContext": {}});
        if random(2) % 10 != 0 {
            let country = format!("Country {}", random(3) % (2 + new_values));
            client["geographicalContext"]["country"] = json!(country);
        }
        if random(4) % 10 != 0 {
            let os = format!("OS {}", random(5) % (2 + new_values));
            client["userAgent"]["os"] = json!(os);
            if random(6) % 3 != 0 {
                client["userAgent"]["browser"] =
                    json!(["CHROME", "FIREFOX"][(random(7) % 2) as usize]);
            }
        }
        let asn = match random(8) % 6 {
            0 => json!(null),
            1 => json!("64500"),
            _ => json!(64500 + random(10) % (2 + new_values)),
        };
        let result = if random(9) % 12 == 0 {
            "FAILURE"
        } else {
            "SUCCESS"
        };

        Event::from_value(json!({
            "uuid": format!("event-{step}"),
            "published": idaudit_store::format_time(time),
            "eventType": event_type,
            "actor": {"type": "User", "alternateId": login},
            "client": client,
            "securityContext": {"asNumber": asn},
            "outcome": {"result": result}
        }))
        .unwrap()
    }

    /// Tells whether the rule at a position skips the event of a step.
    type Skips = dyn Fn(u64, usize) -> bool;

    /// Runs `rules` over a year of varied sign-ins, in order, skipping a
    /// rule on the events that `skips` names, as an allow-list of that
    /// rule does, and returns the alerts.
    fn run_rules(rules: &mut [FirstSeen], skips: &Skips) -> Vec<Alert> {
        let mut alerts = Vec::new();
        for step in 0..8 * 365 {
            let event = varied_sign_in(step);
            for (position, rule) in rules.iter_mut().enumerate() {
                if !skips(step, position) {
                    rule.observe(&event, &mut alerts);
                }
            }
        }
        alerts
    }

    fn separate_rules() -> [FirstSeen; 3] {
        [Attribute::Country, Attribute::Asn, Attribute::Device].map(FirstSeen::new)
    }

    #[test]
    fn shared_baselines_same_alerts_as_separate() {
        let cases: [(&str, &Skips); 3] = [
            ("no skips", &|_, _| false),
            ("per-rule skips", &|step, position| {
                (step * 7 + position as u64 * 3).is_multiple_of(11)
            }),
            ("ASN rule disabled", &|_, position| position == 1),
        ];
        for (name, skips) in cases {
            let expected = run_rules(&mut separate_rules(), skips);
            let alerts = run_rules(&mut FirstSeen::sharing_baselines(), skips);

            for rule in [
                "new-country-for-user",
                "new-asn-for-user",
                "new-device-for-user",
            ] {
                if name == "ASN rule disabled" && rule == "new-asn-for-user" {
                    continue;
                }
                assert!(
                    expected.iter().any(|alert| alert.rule == rule),
                    "{name}: no {rule} alert to compare"
                );
            }
            assert_eq!(alerts, expected, "{name}");
        }
    }

    /// Users who stop signing in are forgotten after 90 days, so a year of
    /// new users keeps about one quarter of them.
    #[test]
    fn idle_users_forgotten() {
        let mut rule = FirstSeen::new(Attribute::Country);
        let mut alerts = Vec::new();
        let mut max_users = 0;
        for day in 0..365 {
            for number in 0..10 {
                let login = format!("user{day}-{number}@example.com");
                rule.observe(&sign_in(&login, "France", day), &mut alerts);
            }
            max_users = max_users.max(rule.table.borrow().users.len());
        }
        assert!(max_users <= 10 * (90 + 8), "{max_users} users held");
        assert!(alerts.is_empty());
    }

    #[test]
    fn values_per_user_capped() {
        let mut rule = FirstSeen::new(Attribute::Country);
        let mut alerts = Vec::new();
        for day in 0..200 {
            let country = format!("Country {day}");
            rule.observe(&sign_in("jdoe@example.com", &country, day / 4), &mut alerts);
        }
        let table = rule.table.borrow();
        let baseline = table.users[&digest("jdoe@example.com")][0]
            .as_ref()
            .unwrap();
        assert_eq!(baseline.seen.len(), MAX_VALUES_PER_USER);
        assert!(!alerts.is_empty());
    }
}
