//! Okta-style identifiers.
//!
//! Okta object ids are 20 characters: a three-character type prefix (`00u` user, `00g`
//! group, `0oa` app, `0ua` app user), random base62 characters and a short suffix shared
//! by every object of the org's cell. The generator draws them from its seeded stream;
//! the server draws request ids and client ids from the OS. The `uuid` and request id of
//! a generated System Log event are derived from a 64-bit key that the event stores.

use rand::Rng;
use sha2::{Digest, Sha256};

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const URL_SAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Suffix shared by the ids of every simulated object, like the cell suffix of a real org.
const CELL_SUFFIX: &str = "697";

/// Length of an Okta object id.
pub const OBJECT_ID_LENGTH: usize = 20;

/// Draws `length` characters from `alphabet`.
pub fn random_from<R: Rng + ?Sized>(rng: &mut R, alphabet: &[u8], length: usize) -> String {
    (0..length)
        .map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())]))
        .collect()
}

/// Draws a base62 string of `length` characters.
pub fn random_token<R: Rng + ?Sized>(rng: &mut R, length: usize) -> String {
    random_from(rng, BASE62, length)
}

/// Draws a 20-character object id with the given three-character prefix.
pub fn object_id<R: Rng + ?Sized>(rng: &mut R, prefix: &str) -> String {
    let random_length = OBJECT_ID_LENGTH - prefix.len() - CELL_SUFFIX.len();
    format!("{prefix}{}{CELL_SUFFIX}", random_token(rng, random_length))
}

/// Derives a stable object id from a key, for objects such as app users that several
/// events refer to without the generator keeping a table of them.
pub fn derived_object_id(prefix: &str, key: &str) -> String {
    let mut out = String::with_capacity(OBJECT_ID_LENGTH);
    push_derived_object_id(&mut out, prefix, &[key]);
    out
}

/// Appends the id that [`derived_object_id`] derives from the concatenation of
/// `key_parts`, without building the key.
pub fn push_derived_object_id(out: &mut String, prefix: &str, key_parts: &[&str]) {
    let mut hasher = Sha256::new();
    for part in key_parts {
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let random_length = OBJECT_ID_LENGTH - prefix.len() - CELL_SUFFIX.len();
    out.push_str(prefix);
    for byte in digest.iter().take(random_length) {
        out.push(char::from(BASE62[usize::from(*byte) % BASE62.len()]));
    }
    out.push_str(CELL_SUFFIX);
}

/// Draws `length` URL-safe base64 characters, six bits of a random word each.
fn random_url_safe<R: Rng + ?Sized>(rng: &mut R, length: usize) -> String {
    let mut out = String::with_capacity(length);
    let mut bits = 0u64;
    for index in 0..length {
        if index % 10 == 0 {
            bits = rng.next_u64();
        }
        out.push(char::from(URL_SAFE[(bits & 63) as usize]));
        bits >>= 6;
    }
    out
}

/// Draws a request id like `X-Okta-Request-Id` and `transaction.id` (27 URL-safe characters).
pub fn request_id<R: Rng + ?Sized>(rng: &mut R) -> String {
    random_url_safe(rng, 27)
}

/// Writes a 64-bit word as 11 URL-safe characters, six bits each, lowest bits first.
fn push_word(out: &mut String, word: u64) {
    push_characters(out, word, 11);
}

/// Mixes the bits of a word (the SplitMix64 finalizer), so that related keys give
/// unrelated-looking text.
fn mix(mut word: u64) -> u64 {
    word = (word ^ (word >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    word = (word ^ (word >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    word ^ (word >> 31)
}

/// Returns the session id of a session key: `idx` and 22 URL-safe characters, the first
/// 11 holding the key itself so that [`session_key`] can read it back.
pub fn session_id_from_key(key: u64) -> String {
    let mut out = String::with_capacity(25);
    push_session_id(&mut out, key);
    out
}

/// Appends the session id of a session key, as [`session_id_from_key`] returns it.
pub fn push_session_id(out: &mut String, key: u64) {
    out.push_str("idx");
    push_word(out, key);
    push_word(out, mix(key));
}

/// Constants that each id derived from an event key mixes in, so that the `uuid` and the
/// request id of one event look unrelated. Any distinct 64-bit values serve.
const UUID_HIGH_SALT: u64 = 0x9e37_79b9_7f4a_7c15;
const UUID_LOW_SALT: u64 = 0xd1b5_4a32_d192_ed03;
const REQUEST_SALTS: [u64; 3] = [
    0x8cb9_2ba7_2f3d_8dd7,
    0xaef1_7502_108e_f2d9,
    0xc2b2_ae3d_27d4_eb4f,
];

/// Appends the version 4 UUID derived from an event key.
///
/// The 122 free bits come from two mixes of the key. The four bits of the first that
/// the version overwrites are kept in the second, so the UUID determines the key and
/// distinct keys give distinct UUIDs.
pub fn push_uuid_from_key(out: &mut String, key: u64) {
    let high = mix(key ^ UUID_HIGH_SALT);
    let lost_to_version = (high >> 12) & 0xf;
    let low = (mix(key ^ UUID_LOW_SALT) & !0xf) | lost_to_version;
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&high.to_be_bytes());
    bytes[8..].copy_from_slice(&low.to_be_bytes());
    let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
    out.push_str(
        uuid.hyphenated()
            .encode_lower(&mut uuid::Uuid::encode_buffer()),
    );
}

/// Appends the 27-character request id (`X-Okta-Request-Id`, `transaction.id`) derived
/// from an event key.
///
/// The characters carry 60, 60 and 42 bits of three mixes of the key. The four bits of
/// the first mix that its 10 characters leave out are carried by the second, so the id
/// determines the key and distinct keys give distinct ids.
pub fn push_request_id_from_key(out: &mut String, key: u64) {
    let first = mix(key ^ REQUEST_SALTS[0]);
    let second = (mix(key ^ REQUEST_SALTS[1]) & !0xf) | (first >> 60);
    let third = mix(key ^ REQUEST_SALTS[2]);
    push_characters(out, first, 10);
    push_characters(out, second, 10);
    push_characters(out, third, 7);
}

/// Appends `count` URL-safe characters, six bits of `word` each, lowest bits first.
fn push_characters(out: &mut String, mut word: u64, count: usize) {
    for _ in 0..count {
        out.push(char::from(URL_SAFE[(word & 63) as usize]));
        word >>= 6;
    }
}

/// Reads the key back from a session id made by [`session_id_from_key`].
pub fn session_key(session: &str) -> Option<u64> {
    let body = session.strip_prefix("idx")?.as_bytes();
    if body.len() != 22 {
        return None;
    }
    let mut key = 0u64;
    for (index, byte) in body[..11].iter().enumerate() {
        let value = URL_SAFE.iter().position(|symbol| symbol == byte)? as u64;
        key |= value.checked_shl(6 * index as u32).unwrap_or(0);
    }
    (session_id_from_key(key) == session).then_some(key)
}

/// Draws a version 4 UUID.
pub fn uuid_v4<R: Rng + ?Sized>(rng: &mut R) -> String {
    uuid::Builder::from_random_bytes(rng.r#gen())
        .into_uuid()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn object_ids_have_okta_shape() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let id = object_id(&mut rng, "00u");
        assert_eq!(id.len(), OBJECT_ID_LENGTH);
        assert!(id.starts_with("00u"));
        assert!(
            id.chars()
                .all(|character| character.is_ascii_alphanumeric())
        );
    }

    #[test]
    fn derived_ids_are_stable() {
        let first = derived_object_id("0ua", "00uA/0oaB");
        assert_eq!(first, derived_object_id("0ua", "00uA/0oaB"));
        assert_ne!(first, derived_object_id("0ua", "00uA/0oaC"));
        assert_eq!(first.len(), OBJECT_ID_LENGTH);
    }

    #[test]
    fn session_keys_round_trip() {
        for key in [0, 1, u64::MAX, 0x0123_4567_89ab_cdef] {
            let session = session_id_from_key(key);
            assert_eq!(session.len(), 25);
            assert_eq!(session_key(&session), Some(key));
        }
        assert_eq!(session_key("idxAAAA"), None);
    }

    #[test]
    fn derived_id_from_parts_matches_joined_key() {
        let mut out = String::new();
        push_derived_object_id(&mut out, "0ua", &["00uA", "/", "0oaB"]);
        assert_eq!(out, derived_object_id("0ua", "00uA/0oaB"));
    }

    #[test]
    fn event_key_ids_have_okta_shape() {
        for key in [0, 1, u64::MAX, 0x0123_4567_89ab_cdef] {
            let mut uuid = String::new();
            push_uuid_from_key(&mut uuid, key);
            let parsed = uuid::Uuid::parse_str(&uuid).unwrap();
            assert_eq!(parsed.get_version_num(), 4, "key {key}");
            assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122, "key {key}");

            let mut request = String::new();
            push_request_id_from_key(&mut request, key);
            assert_eq!(request.len(), 27, "key {key}");
            assert!(request.bytes().all(|byte| URL_SAFE.contains(&byte)));
        }
    }

    #[test]
    fn event_key_ids_are_distinct_per_key() {
        // Sequential keys and keys one bit apart, the inputs most likely to collide.
        let sequential = 0..50_000u64;
        let one_bit = (0..64).map(|bit| 0x5555_5555_5555_5555u64 ^ (1 << bit));
        let keys: Vec<u64> = sequential.chain(one_bit).collect();
        let mut uuids = std::collections::HashSet::new();
        let mut requests = std::collections::HashSet::new();
        for &key in &keys {
            let mut uuid = String::new();
            push_uuid_from_key(&mut uuid, key);
            assert!(uuids.insert(uuid), "uuid repeated for key {key}");
            let mut request = String::new();
            push_request_id_from_key(&mut request, key);
            assert!(
                requests.insert(request),
                "request id repeated for key {key}"
            );
        }
    }

    #[test]
    fn uuids_are_version_4() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let parsed = uuid::Uuid::parse_str(&uuid_v4(&mut rng)).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
    }
}
