//! `impossible-travel`: two successful sign-ins of one user from places too
//! far apart for the time between them.
//!
//! Sigma cannot compare one event with an earlier one, so this rule is
//! native. It keeps each user's last successful `user.session.start` with a
//! geolocation and computes the great-circle (haversine) distance to the
//! next one. It alerts when the distance is over `min_distance_km` and the
//! speed needed is over `max_speed_kmh`.

use std::net::Ipv4Addr;

use chrono::{DateTime, Duration, Utc};
use idaudit_store::{Alert, AlertStatus};
use rustc_hash::FxHashMap;
use serde_json::json;

use super::Rule;
use crate::alert_id;
use crate::event::Event;
use crate::sigma::correlation::{uuid_bytes, uuid_text};

pub const RULE_ID: &str = "impossible-travel";

/// Mean radius of the Earth, in kilometres.
const EARTH_RADIUS_KM: f64 = 6371.0;

/// A text kept in a sign-in: IPv4 addresses and Okta's lower-case
/// hyphenated uuids as their bytes, anything else as written.
#[derive(Clone, Debug, PartialEq)]
enum Compact {
    Absent,
    Ipv4([u8; 4]),
    Uuid([u8; 16]),
    Text(Box<str>),
}

impl Compact {
    fn ip(text: Option<&str>) -> Compact {
        let Some(text) = text else {
            return Compact::Absent;
        };
        // Rust's parser accepts only the dotted-decimal form without
        // leading zeros, which `Ipv4Addr`'s `Display` writes back as it was.
        match text.parse::<Ipv4Addr>() {
            Ok(address) => Compact::Ipv4(address.octets()),
            Err(_) => Compact::Text(text.into()),
        }
    }

    fn uuid(text: &str) -> Compact {
        match uuid_bytes(text) {
            Some(bytes) => Compact::Uuid(bytes),
            None => Compact::Text(text.into()),
        }
    }

    fn text(&self) -> Option<String> {
        match self {
            Compact::Absent => None,
            Compact::Ipv4(octets) => Some(Ipv4Addr::from(*octets).to_string()),
            Compact::Uuid(bytes) => Some(uuid_text(bytes)),
            Compact::Text(text) => Some(text.to_string()),
        }
    }
}

/// A user's last successful sign-in with a geolocation: about 90 bytes,
/// because an org of 100,000 users keeps one for each.
struct SignIn {
    /// Microseconds since the Unix epoch.
    time: i64,
    location: (f64, f64),
    /// Position in [`ImpossibleTravel::countries`], if the event has one.
    country: Option<u32>,
    ip: Compact,
    uuid: Compact,
}

pub struct ImpossibleTravel {
    min_distance_km: f64,
    max_speed_kmh: f64,
    /// Last sign-ins by the 64-bit digest of the lower-cased user name.
    last: FxHashMap<u64, SignIn>,
    /// Country names seen, each stored once.
    countries: Vec<Box<str>>,
    country_ids: FxHashMap<Box<str>, u32>,
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
            countries: Vec::new(),
            country_ids: FxHashMap::default(),
            swept: None,
        }
    }
}

impl ImpossibleTravel {
    fn country_id(&mut self, country: Option<&str>) -> Option<u32> {
        let country = country?;
        if let Some(&id) = self.country_ids.get(country) {
            return Some(id);
        }
        let id = u32::try_from(self.countries.len()).ok()?;
        self.countries.push(country.into());
        self.country_ids.insert(country.into(), id);
        Some(id)
    }

    fn country(&self, id: Option<u32>) -> Option<&str> {
        id.and_then(|id| self.countries.get(id as usize))
            .map(|name| &**name)
    }

    fn sign_in(&mut self, event: &Event, time: DateTime<Utc>, location: (f64, f64)) -> SignIn {
        SignIn {
            time: time.timestamp_micros(),
            location,
            country: self.country_id(event.country()),
            ip: Compact::ip(event.client_ip()),
            uuid: Compact::uuid(&event.uuid),
        }
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
                "client.geographicalContext.geolocation.lat",
                "client.geographicalContext.geolocation.lon",
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
            let horizon = self.horizon().num_microseconds().unwrap_or(i64::MAX);
            let now = time.timestamp_micros();
            self.last
                .retain(|_, sign_in| now.saturating_sub(sign_in.time) <= horizon);
        }
        let user = super::lower(user);
        let key = super::digest(&user);
        let current = self.sign_in(event, time, location);
        let Some(previous) = self.last.get(&key) else {
            self.last.insert(key, current);
            return;
        };
        let distance = haversine_km(previous.location, location);
        let seconds = (current.time - previous.time) / 1_000_000;
        let hours = seconds.max(1) as f64 / 3600.0;
        let speed = distance / hours;
        if distance >= self.min_distance_km && speed >= self.max_speed_kmh {
            let alert = self.travel_alert(&user, previous, &current, distance, speed);
            alerts.push(alert);
        }
        self.last.insert(key, current);
    }

    fn finish(&mut self, _alerts: &mut Vec<Alert>) {}
}

impl ImpossibleTravel {
    fn travel_alert(
        &self,
        user: &str,
        previous: &SignIn,
        current: &SignIn,
        distance: f64,
        speed: f64,
    ) -> Alert {
        let previous_uuid = previous.uuid.text().unwrap_or_default();
        let current_uuid = current.uuid.text().unwrap_or_default();
        let (previous_ip, current_ip) = (previous.ip.text(), current.ip.text());
        let time = |micros: i64| DateTime::from_timestamp_micros(micros).unwrap_or_default();
        Alert {
            id: alert_id(RULE_ID, user, &previous_uuid),
            rule: RULE_ID.to_string(),
            severity: "high".to_string(),
            title: format!(
                "Impossible travel for {user}: {:.0} km in {} minutes",
                distance,
                (current.time - previous.time) / 60_000_000
            ),
            user: Some(user.to_string()),
            ip: current_ip.clone(),
            first_seen: idaudit_store::format_time(time(previous.time)),
            last_seen: idaudit_store::format_time(time(current.time)),
            count: 2,
            evidence: vec![previous_uuid, current_uuid],
            details: json!({
                "distanceKm": distance.round(),
                "speedKmh": speed.round(),
                "from": {"ip": previous_ip, "country": self.country(previous.country)},
                "to": {"ip": current_ip, "country": self.country(current.country)},
                "techniques": ["T1078.004"],
            }),
            status: AlertStatus::Open,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Compact;

    #[test]
    fn compact_texts_read_back_as_written() {
        let texts = [
            "198.51.100.7",
            "0.0.0.0",
            "2001:db8::1",
            "2001:DB8:0:0::1",
            "010.1.1.1",
            "a1b2c3d4-0000-4000-8000-00000000000f",
            "A1B2C3D4-0000-4000-8000-00000000000F",
            "not an address",
        ];
        for text in texts {
            assert_eq!(Compact::ip(Some(text)).text().as_deref(), Some(text));
            assert_eq!(Compact::uuid(text).text().as_deref(), Some(text));
        }
        assert_eq!(Compact::ip(None).text(), None);
    }

    #[test]
    fn compact_forms_used_for_usual_texts() {
        assert_eq!(
            Compact::ip(Some("198.51.100.7")),
            Compact::Ipv4([198, 51, 100, 7])
        );
        let uuid = Compact::uuid("a1b2c3d4-0000-4000-8000-00000000000f");
        assert!(matches!(uuid, Compact::Uuid(_)), "{uuid:?}");
    }
}
