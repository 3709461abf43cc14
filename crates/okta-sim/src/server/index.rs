//! Indices over the served org, so that a page request costs about as much as its page.
//!
//! The org is plain data that tests may change while the server runs. Each cache entry
//! records the org generation (see `shared.rs`) at which it was last found current, and
//! while the generation is unchanged the entry is used as it is. After a change, an
//! index is kept if its list has the same length and buffer address. A rendered user or
//! group is kept if a digest of its fields is the same.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};

use crate::model::{Group, LogEvent, User};

use super::OrgView;

/// Length and buffer address of a list, which change when it is replaced or resized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fingerprint {
    len: usize,
    address: usize,
    /// `published` of the first and last event, for the log.
    ends: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Fingerprint {
    fn of<T>(items: &[T]) -> Fingerprint {
        Fingerprint {
            len: items.len(),
            address: items.as_ptr() as usize,
            ends: None,
        }
    }

    fn of_log(events: &[LogEvent]) -> Fingerprint {
        Fingerprint {
            ends: events
                .first()
                .zip(events.last())
                .map(|(first, last)| (first.published(), last.published())),
            ..Fingerprint::of(events)
        }
    }
}

/// A fast hasher for digests and id lookups in memory; not for untrusted keys.
///
/// Each 8-byte word is mixed in with a rotate, an exclusive or and a multiplication by
/// an odd constant, as rustc's `FxHasher` does. With SipHash, digests took a tenth of
/// the CPU time of page requests.
#[derive(Default)]
pub(crate) struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let remainder = chunks.remainder();
        let mut rest = [0u8; 8];
        rest[..remainder.len()].copy_from_slice(remainder);
        self.add(u64::from_le_bytes(rest) ^ remainder.len() as u64);
    }

    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    fn write_u32(&mut self, value: u32) {
        self.add(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// Positions of a list's items ordered by id, and by id for lookups.
pub(crate) struct ById {
    fingerprint: Fingerprint,
    /// The position of the item at each rank in id order.
    order: Vec<u32>,
    /// The rank in id order of the item at each position.
    ranks: Vec<u32>,
    positions: FastMap<Box<str>, u32>,
}

impl ById {
    pub fn build<T>(items: &[T], id: impl Fn(&T) -> &str) -> ById {
        let mut order: Vec<u32> = (0..items.len() as u32).collect();
        order.sort_unstable_by(|left, right| {
            id(&items[*left as usize]).cmp(id(&items[*right as usize]))
        });
        let mut ranks = vec![0; items.len()];
        for (rank, &position) in order.iter().enumerate() {
            ranks[position as usize] = rank as u32;
        }
        // Built from the back, so that the first of two items with one id is kept.
        let mut positions = FastMap::default();
        for (position, item) in items.iter().enumerate().rev() {
            positions.insert(id(item).into(), position as u32);
        }
        ById {
            fingerprint: Fingerprint::of(items),
            order,
            ranks,
            positions,
        }
    }

    /// Returns the ranks in id order of the items that a list of ids names, in the order
    /// of the list, if the list is sorted. Ids of no item are left out.
    pub fn sorted_ranks<T>(
        &self,
        items: &[T],
        id: impl Fn(&T) -> &str,
        list: &[String],
    ) -> Option<Ranks> {
        if !list.is_sorted() {
            return None;
        }
        let ranks = list
            .iter()
            .filter_map(|wanted| self.find(items, &id, wanted))
            .map(|position| self.ranks[position])
            .collect();
        Some(ranks)
    }

    /// Returns the position of the item at `rank` in id order.
    pub fn position_at(&self, rank: u32) -> usize {
        self.order[rank as usize] as usize
    }

    /// Returns the positions, in id order, of the items whose id is greater than `after`.
    pub fn after<'a, T>(
        &'a self,
        items: &'a [T],
        id: impl Fn(&T) -> &str,
        after: Option<&str>,
    ) -> impl Iterator<Item = usize> + 'a {
        let start = after.map_or(0, |after| {
            self.order
                .partition_point(|&position| id(&items[position as usize]) <= after)
        });
        self.order[start..]
            .iter()
            .map(|&position| position as usize)
    }

    /// Finds the position of the first item with this id.
    pub fn find<T>(&self, items: &[T], id: impl Fn(&T) -> &str, wanted: &str) -> Option<usize> {
        let position = *self.positions.get(wanted)? as usize;
        (id(items.get(position)?) == wanted).then_some(position)
    }
}

/// Storage times and `published` order of the System Log.
pub(crate) struct LogIndex {
    fingerprint: Fingerprint,
    /// Storage time of each event in epoch milliseconds: its `published`, or the storage
    /// time of the event before it if that is later. `None` when every event is stored
    /// in `published` order, so that the storage time is `published` itself.
    stored: Option<Vec<i64>>,
    /// Event positions ordered by `published` (in milliseconds), then position; `None`
    /// when that is storage order.
    by_published: Option<Vec<u32>>,
}

impl LogIndex {
    pub fn build(events: &[LogEvent]) -> LogIndex {
        let millis: Vec<i64> = events
            .iter()
            .map(|event| event.published().timestamp_millis())
            .collect();
        let in_order = millis.windows(2).all(|pair| pair[0] <= pair[1]);
        let (stored, by_published) = if in_order {
            (None, None)
        } else {
            let mut latest = i64::MIN;
            let stored = millis
                .iter()
                .map(|&time| {
                    latest = latest.max(time);
                    latest
                })
                .collect();
            let mut order: Vec<u32> = (0..events.len() as u32).collect();
            order.sort_unstable_by_key(|&position| (millis[position as usize], position));
            (Some(stored), Some(order))
        };
        LogIndex {
            fingerprint: Fingerprint::of_log(events),
            stored,
            by_published,
        }
    }

    /// Returns the storage time of the event at `position`.
    pub fn stored_at(&self, events: &[LogEvent], position: usize) -> i64 {
        match &self.stored {
            Some(stored) => stored[position],
            None => events[position].published().timestamp_millis(),
        }
    }

    /// Returns the position of the first event stored at or after `millis`.
    pub fn first_stored_from(&self, events: &[LogEvent], millis: i64) -> usize {
        let (mut low, mut high) = (0, events.len());
        while low < high {
            let middle = low + (high - low) / 2;
            if self.stored_at(events, middle) < millis {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }

    /// Returns the number of events in `published` order.
    pub fn len(&self) -> usize {
        self.fingerprint.len
    }

    /// Returns the event at `rank` of the `published` order.
    pub fn by_published(&self, rank: usize) -> usize {
        match &self.by_published {
            Some(order) => order[rank] as usize,
            None => rank,
        }
    }
}

/// The indices of one server, each built on first use.
#[derive(Default)]
pub(crate) struct Indexes {
    users: Mutex<Option<(u64, Arc<ById>)>>,
    groups: Mutex<Option<(u64, Arc<ById>)>>,
    log: Mutex<Option<(u64, Arc<LogIndex>)>>,
    rendered_users: Mutex<FastMap<usize, Rendered>>,
    rendered_groups: Mutex<FastMap<usize, Rendered>>,
    user_ranks: Mutex<RankCache>,
}

/// Ranks in id order of the items that a list of ids names.
pub(crate) type Ranks = Arc<[u32]>;

/// Id ranks of the users that lists of user ids name, for one org generation.
#[derive(Default)]
struct RankCache {
    generation: u64,
    /// Keyed by the list's buffer address and length. `None` marks a list not sorted by id.
    lists: FastMap<(usize, usize), Option<Ranks>>,
}

/// The JSON text of an object, the digest of the fields it was rendered from, and the
/// org generation at which that digest was last found current.
struct Rendered {
    generation: u64,
    digest: u64,
    text: Arc<str>,
}

/// Returns the cached index when the org is unchanged since the index was last found
/// current, or when the index was built from the same list. Otherwise builds a new one.
fn cached<T>(
    slot: &Mutex<Option<(u64, Arc<T>)>>,
    generation: u64,
    fingerprint: impl FnOnce() -> Fingerprint,
    current: impl Fn(&T) -> Fingerprint,
    build: impl FnOnce() -> T,
) -> Arc<T> {
    let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((checked, index)) = slot.as_mut() {
        if *checked == generation {
            return index.clone();
        }
        if current(index) == fingerprint() {
            *checked = generation;
            return index.clone();
        }
    }
    let index = Arc::new(build());
    *slot = Some((generation, index.clone()));
    index
}

impl Indexes {
    pub fn users(&self, org: &OrgView<'_>) -> Arc<ById> {
        cached(
            &self.users,
            org.generation,
            || Fingerprint::of(&org.users),
            |index| index.fingerprint,
            || ById::build(&org.users, |user| &user.id),
        )
    }

    pub fn groups(&self, org: &OrgView<'_>) -> Arc<ById> {
        cached(
            &self.groups,
            org.generation,
            || Fingerprint::of(&org.groups),
            |index| index.fingerprint,
            || ById::build(&org.groups, |group: &Group| &group.id),
        )
    }

    pub fn log(&self, org: &OrgView<'_>) -> Arc<LogIndex> {
        cached(
            &self.log,
            org.generation,
            || Fingerprint::of_log(&org.events),
            |index| index.fingerprint,
            || LogIndex::build(&org.events),
        )
    }

    /// Returns the ranks in id order of the users named by a list of user ids, such as
    /// a group's members, if the list is sorted by id. Ids of no user are left out, and
    /// the ranks are in the order of the list, so they ascend too.
    ///
    /// Each list is read once per org generation, so that paging through it compares
    /// numbers instead of looking up every id.
    pub fn sorted_user_ranks(
        &self,
        org: &OrgView<'_>,
        users: &ById,
        list: &[String],
    ) -> Option<Ranks> {
        let mut cache = self
            .user_ranks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if cache.generation != org.generation {
            cache.lists.clear();
            cache.generation = org.generation;
        }
        let key = (list.as_ptr() as usize, list.len());
        let ranks = cache
            .lists
            .entry(key)
            .or_insert_with(|| users.sorted_ranks(&org.users, |user| &user.id, list));
        ranks.clone()
    }

    /// Returns the JSON text of the users at `positions`, as `User::to_okta_json`
    /// renders them, from the cache where the user has not changed.
    pub fn user_json(
        &self,
        org: &OrgView<'_>,
        positions: &[usize],
        base_url: &str,
    ) -> Vec<Arc<str>> {
        rendered(
            &self.rendered_users,
            org.generation,
            positions,
            |position| user_digest(&org.users[position]),
            |position| org.users[position].to_okta_json(base_url).to_string(),
        )
    }

    /// Returns the JSON text of the groups at `positions`, as `Group::to_okta_json`
    /// renders them, from the cache where the group has not changed.
    pub fn group_json(
        &self,
        org: &OrgView<'_>,
        positions: &[usize],
        base_url: &str,
    ) -> Vec<Arc<str>> {
        rendered(
            &self.rendered_groups,
            org.generation,
            positions,
            |position| group_digest(&org.groups[position]),
            |position| org.groups[position].to_okta_json(base_url).to_string(),
        )
    }
}

/// Returns the rendered text of the objects at `positions` from `cache`: as it is when
/// the org has not changed since the entry was last found current, after comparing
/// digests otherwise, and rendering and caching the objects that changed.
fn rendered(
    cache: &Mutex<FastMap<usize, Rendered>>,
    generation: u64,
    positions: &[usize],
    digest: impl Fn(usize) -> u64,
    render: impl Fn(usize) -> String,
) -> Vec<Arc<str>> {
    let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
    positions
        .iter()
        .map(|&position| {
            if let Some(entry) = cache.get_mut(&position) {
                if entry.generation == generation {
                    return entry.text.clone();
                }
                let current = digest(position);
                if entry.digest == current {
                    entry.generation = generation;
                    return entry.text.clone();
                }
            }
            let text: Arc<str> = render(position).into();
            let entry = Rendered {
                generation,
                digest: digest(position),
                text: text.clone(),
            };
            cache.insert(position, entry);
            text
        })
        .collect()
}

/// Digests every field of a group that its JSON shows.
fn group_digest(group: &Group) -> u64 {
    let mut hasher = FastHasher::default();
    group.id.hash(&mut hasher);
    (
        group.created,
        group.last_updated,
        group.last_membership_updated,
    )
        .hash(&mut hasher);
    group.group_type.hash(&mut hasher);
    group.name.hash(&mut hasher);
    group.description.hash(&mut hasher);
    group.source_app_id.hash(&mut hasher);
    if let Some(directory) = &group.directory {
        for text in [
            &directory.sam_account_name,
            &directory.dn,
            &directory.windows_domain_qualified_name,
            &directory.external_id,
            &directory.object_sid,
        ] {
            text.hash(&mut hasher);
        }
    }
    hasher.finish()
}

/// Digests every field of a user that its JSON shows.
fn user_digest(user: &User) -> u64 {
    let mut hasher = FastHasher::default();
    user.id.hash(&mut hasher);
    user.status.hash(&mut hasher);
    (
        user.created,
        user.activated,
        user.status_changed,
        user.last_login,
        user.last_updated,
        user.password_changed,
    )
        .hash(&mut hasher);
    user.type_id.hash(&mut hasher);
    let profile = &user.profile;
    for text in [
        &profile.first_name,
        &profile.last_name,
        &profile.display_name,
        &profile.login,
        &profile.email,
        &profile.title,
        &profile.department,
        &profile.organization,
        &profile.cost_center,
        &profile.employee_number,
        &profile.user_type,
        &profile.city,
        &profile.state,
        &profile.country_code,
        &profile.timezone,
    ] {
        text.hash(&mut hasher);
    }
    for text in [
        &profile.second_email,
        &profile.mobile_phone,
        &profile.manager_id,
        &profile.manager,
    ] {
        text.hash(&mut hasher);
    }
    hasher.finish()
}
