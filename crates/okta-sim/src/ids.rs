//! Okta-style identifiers.
//!
//! Okta object ids are 20 characters: a three-character type prefix (`00u` user, `00g`
//! group, `0oa` app, `0ua` app user), random base62 characters and a short suffix shared
//! by every object of the org's cell. The generator draws them from its seeded stream;
//! the server draws request ids and client ids from the OS.

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
    let digest = Sha256::digest(key.as_bytes());
    let random_length = OBJECT_ID_LENGTH - prefix.len() - CELL_SUFFIX.len();
    let body: String = digest
        .iter()
        .take(random_length)
        .map(|byte| char::from(BASE62[usize::from(*byte) % BASE62.len()]))
        .collect();
    format!("{prefix}{body}{CELL_SUFFIX}")
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

/// Draws a session id as Okta Identity Engine writes it (`idx` and 22 characters).
pub fn session_id<R: Rng + ?Sized>(rng: &mut R) -> String {
    format!("idx{}", random_url_safe(rng, 22))
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
    fn uuids_are_version_4() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let parsed = uuid::Uuid::parse_str(&uuid_v4(&mut rng)).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
    }
}
