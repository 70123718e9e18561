//! UUID helpers (the crate has no `uuid` dependency; v4-shaped ids from the seeded RNG are
//! all the simulator needs).

use std::fmt::Write as _;

use rand::RngCore;

/// A random version-4 UUID drawn from `rng`.
pub(crate) fn random_uuid(rng: &mut impl RngCore) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    format_uuid(bytes)
}

/// A stable UUID derived from `name` (FNV-1a, twice), for catalogue entries whose ids must
/// not change between runs.
pub(crate) fn stable_uuid(name: &str) -> String {
    let mut high: u64 = 0xcbf2_9ce4_8422_2325;
    let mut low: u64 = 0x6c62_272e_07bb_0142;
    for byte in name.bytes() {
        high ^= u64::from(byte);
        high = high.wrapping_mul(0x0100_0000_01b3);
        low ^= u64::from(byte.rotate_left(3));
        low = low.wrapping_mul(0x0000_0100_0000_01b3 ^ 0x1000);
    }
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&high.to_be_bytes());
    bytes[8..].copy_from_slice(&low.to_be_bytes());
    format_uuid(bytes)
}

fn format_uuid(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = bytes.iter().fold(String::with_capacity(32), |mut acc, b| {
        let _ = write!(acc, "{b:02x}");
        acc
    });
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Whether `s` has the textual shape of a UUID (8-4-4-4-12 hex digits).
#[must_use]
pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The first eight characters of a UUID, the API's `short_id`.
pub(crate) fn short_id(id: &str) -> String {
    id.chars().take(8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn generated_ids_are_uuids_and_stable_ids_do_not_change() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let id = random_uuid(&mut rng);
        assert!(is_uuid(&id), "{id}");
        assert_eq!(stable_uuid("da"), stable_uuid("da"));
        assert_ne!(stable_uuid("da"), stable_uuid("sv"));
        assert!(is_uuid(&stable_uuid("x")));
        assert!(!is_uuid("123a45b6"));
        assert!(!is_uuid("zzzzzzzz-0000-4000-8000-000000000000"));
    }
}
