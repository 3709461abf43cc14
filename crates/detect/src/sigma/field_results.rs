//! Results of the field conditions of an engine's detection rules on the
//! current event.
//!
//! Rules often repeat a condition: several built-in rules select failed
//! sign-ins with the same `eventType` and `outcome.result`. Matchers
//! compiled from the same source text get the same id, and each id is
//! evaluated at most once per event.

use rustc_hash::FxHashMap;

use super::detection::Detection;
use super::matcher::{FieldMatcher, MatcherKey};
use crate::event::Event;

/// Results of the field conditions on one event, by matcher id.
///
/// A result is valid when its stamp equals `generation`. Starting an event
/// increments `generation`, so the results of the event before go stale
/// without a pass over them.
#[derive(Default)]
pub(super) struct FieldResults {
    generation: u32,
    stamps: Vec<u32>,
    results: Vec<bool>,
}

impl FieldResults {
    /// Gives every field condition of `detections` an id, the same id for
    /// matchers compiled from the same source text, and returns a table
    /// with room for a result per id.
    pub fn intern<'a>(detections: impl Iterator<Item = &'a mut Detection>) -> FieldResults {
        let mut ids: FxHashMap<MatcherKey, u32> = FxHashMap::default();
        for detection in detections {
            for matcher in detection.matchers_mut() {
                let next = u32::try_from(ids.len()).unwrap_or(FieldMatcher::NO_ID);
                // Once every id below `NO_ID` is taken, matchers keep
                // `NO_ID` and are evaluated each time they are reached.
                if next == FieldMatcher::NO_ID {
                    continue;
                }
                let id = *ids.entry(matcher.key().clone()).or_insert(next);
                matcher.set_id(id);
            }
        }
        FieldResults {
            generation: 0,
            stamps: vec![0; ids.len()],
            results: vec![false; ids.len()],
        }
    }

    /// Forgets the results of the event before.
    pub fn start_event(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            // Stamps from 2^32 events ago would look current again.
            self.stamps.fill(0);
            self.generation = 1;
        }
    }

    /// Returns whether `matcher` matches `event`, evaluating it only if no
    /// matcher with its id was evaluated since [`FieldResults::start_event`].
    pub fn test(&mut self, matcher: &FieldMatcher, event: &Event) -> bool {
        let id = matcher.id() as usize;
        let Some(stamp) = self.stamps.get_mut(id) else {
            return matcher.matches(event);
        };
        if *stamp == self.generation {
            return self.results[id];
        }
        let result = matcher.matches(event);
        *stamp = self.generation;
        self.results[id] = result;
        result
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::FieldResults;
    use crate::event::Event;
    use crate::sigma::detection::Detection;

    fn detection(yaml: &str) -> Detection {
        let section: yaml_serde::Mapping = yaml_serde::from_str(yaml).unwrap();
        Detection::compile(&section).unwrap()
    }

    fn sign_in(result: &str) -> Event {
        Event::from_value(json!({
            "uuid": result,
            "eventType": "user.session.start",
            "outcome": {"result": result}
        }))
        .unwrap()
    }

    #[test]
    fn same_text_shares_id() {
        let mut first = detection(
            "selection:\n    eventType: user.session.start\n    outcome.result: FAILURE\ncondition: selection",
        );
        let mut second = detection(
            "failed:\n    outcome.result: FAILURE\n    outcome.result|cased: FAILURE\ncondition: failed",
        );
        FieldResults::intern([&mut first, &mut second].into_iter());

        let first_ids: Vec<u32> = first.matchers_mut().map(|matcher| matcher.id()).collect();
        let second_ids: Vec<u32> = second.matchers_mut().map(|matcher| matcher.id()).collect();
        assert_eq!(first_ids, [0, 1]);
        assert_eq!(second_ids, [1, 2]);
    }

    /// Within one event a result is evaluated once, so a second matcher
    /// with the same id gets the first result even for another event.
    #[test]
    fn result_kept_until_next_event() {
        let mut rule = detection(
            "one:\n    outcome.result: FAILURE\ntwo:\n    outcome.result: FAILURE\ncondition: one and two",
        );
        let mut results = FieldResults::intern(std::iter::once(&mut rule));
        let matchers: Vec<_> = rule.matchers_mut().map(|matcher| matcher.clone()).collect();
        let (failure, success) = (sign_in("FAILURE"), sign_in("SUCCESS"));

        results.start_event();
        assert!(results.test(&matchers[0], &failure));
        assert!(results.test(&matchers[1], &success));

        results.start_event();
        assert!(!results.test(&matchers[1], &success));
        assert!(!results.test(&matchers[0], &failure));
    }

    #[test]
    fn generation_wrap_clears_stamps() {
        let mut results = FieldResults {
            generation: u32::MAX - 1,
            stamps: vec![u32::MAX - 1, 1, 0],
            results: vec![true, true, false],
        };
        results.start_event();
        assert_eq!(results.generation, u32::MAX);
        assert_eq!(results.stamps, [u32::MAX - 1, 1, 0]);
        results.start_event();
        assert_eq!(results.generation, 1);
        assert_eq!(results.stamps, [0, 0, 0]);
    }
}
