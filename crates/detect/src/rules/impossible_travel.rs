//! `impossible-travel`: two successful sign-ins of one user from places too
//! far apart for the time between them.
//!
//! Sigma cannot compare one event with an earlier one, so this rule is
//! native. It keeps each user's last successful `user.session.start` with a
//! geolocation and computes the great-circle (haversine) distance to the
//! next one. It alerts when the distance is over `min_distance_km` and the
//! speed needed is over `max_speed_kmh`.

use chrono::{DateTime, Duration, Utc};
use idaudit_store::{Alert, AlertStatus};
use rustc_hash::FxHashMap;
use serde_json::json;

use super::Rule;
use crate::alert_id;
use crate::event::Event;

pub const RULE_ID: &str = "impossible-travel";

/// Mean radius of the Earth, in kilometres.
const EARTH_RADIUS_KM: f64 = 6371.0;

struct SignIn {
    time: DateTime<Utc>,
    location: (f64, f64),
    country: Option<String>,
    ip: Option<String>,
    uuid: String,
}

pub struct ImpossibleTravel {
    min_distance_km: f64,
    max_speed_kmh: f64,
    last: FxHashMap<Box<str>, SignIn>,
    /// Event time of the last removal of sign-ins too old to matter.
    swept: Option<DateTime<Utc>>,
}

impl ImpossibleTravel {
    /// Returns how long a sign-in can matter: the time to cover half the
    /// Earth's circumference, the longest great-circle distance, at
    /// `max_speed_kmh`. A later sign-in can never be too fast after an
    /// older one, so dropping it changes no alert.
    fn horizon(&self) -> Duration {
        let hours = std::f64::consts::PI * EARTH_RADIUS_KM / self.max_speed_kmh.max(1.0);
        Duration::seconds((hours * 3600.0).ceil() as i64 + 60)
    }
}

impl Default for ImpossibleTravel {
    /// 500 km at over 1,000 km/h: faster than an airliner's cruising speed,
    /// and far enough that city-level geolocation errors (tens of km) and
    /// neighbouring cities served by one ISP do not trigger it.
    fn default() -> ImpossibleTravel {
        ImpossibleTravel {
            min_distance_km: 500.0,
            max_speed_kmh: 1000.0,
            last: FxHashMap::default(),
            swept: None,
        }
    }
}

/// Sets `slot` to `text`, reusing the string `slot` holds.
fn replace_text(slot: &mut Option<String>, text: Option<&str>) {
    match (slot.as_mut(), text) {
        (Some(existing), Some(text)) => {
            existing.clear();
            existing.push_str(text);
        }
        (_, text) => *slot = text.map(str::to_string),
    }
}

/// Returns the great-circle distance in kilometres between two points given
/// as latitude and longitude in degrees.
pub fn haversine_km(from: (f64, f64), to: (f64, f64)) -> f64 {
    let (lat1, lon1) = (from.0.to_radians(), from.1.to_radians());
    let (lat2, lon2) = (to.0.to_radians(), to.1.to_radians());
    let half_chord = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * half_chord.sqrt().min(1.0).asin()
}

impl Rule for ImpossibleTravel {
    fn id(&self) -> &str {
        RULE_ID
    }

    fn fields(&self) -> Option<Vec<String>> {
        Some(Vec::new())
    }

    fn event_types_read(&self) -> Vec<String> {
        super::owned(&["user.session.start"])
    }

    fn fields_for(&self, event_type: Option<&str>) -> Option<Vec<String>> {
        super::fields_on(
            event_type,
            &["user.session.start"],
            &[
                "client.geographicalContext.geolocation",
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
        let (Some(time), Some(user), Some(location)) =
            (event.published, event.actor_name(), event.geolocation())
        else {
            return;
        };
        if super::sweep_due(&mut self.swept, time, Duration::hours(6)) {
            let horizon = self.horizon();
            self.last
                .retain(|_, sign_in| time - sign_in.time <= horizon);
        }
        let user = super::lower(user);
        let current = |event: &Event| SignIn {
            time,
            location,
            country: event.country().map(str::to_string),
            ip: event.client_ip().map(str::to_string),
            uuid: event.uuid.clone(),
        };
        let Some(previous) = self.last.get_mut(user.as_ref()) else {
            self.last.insert(user.as_ref().into(), current(event));
            return;
        };
        let distance = haversine_km(previous.location, location);
        let hours = (time - previous.time).num_seconds().max(1) as f64 / 3600.0;
        let speed = distance / hours;
        if distance >= self.min_distance_km && speed >= self.max_speed_kmh {
            let current = current(event);
            alerts.push(travel_alert(&user, previous, &current, distance, speed));
            *previous = current;
            return;
        }
        // Most sign-ins raise nothing: the last one is updated in place,
        // without allocating.
        previous.time = time;
        previous.location = location;
        replace_text(&mut previous.country, event.country());
        replace_text(&mut previous.ip, event.client_ip());
        previous.uuid.clear();
        previous.uuid.push_str(&event.uuid);
    }

    fn finish(&mut self, _alerts: &mut Vec<Alert>) {}
}

fn travel_alert(
    user: &str,
    previous: &SignIn,
    current: &SignIn,
    distance: f64,
    speed: f64,
) -> Alert {
    Alert {
        id: alert_id(RULE_ID, user, &previous.uuid),
        rule: RULE_ID.to_string(),
        severity: "high".to_string(),
        title: format!(
            "Impossible travel for {user}: {:.0} km in {} minutes",
            distance,
            (current.time - previous.time).num_minutes()
        ),
        user: Some(user.to_string()),
        ip: current.ip.clone(),
        first_seen: idaudit_store::format_time(previous.time),
        last_seen: idaudit_store::format_time(current.time),
        count: 2,
        evidence: vec![previous.uuid.clone(), current.uuid.clone()],
        details: json!({
            "distanceKm": distance.round(),
            "speedKmh": speed.round(),
            "from": {"ip": previous.ip, "country": previous.country},
            "to": {"ip": current.ip, "country": current.country},
            "techniques": ["T1078.004"],
        }),
        status: AlertStatus::Open,
    }
}
