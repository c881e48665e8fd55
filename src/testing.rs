//! Helpers for the crate's tests.

/// A xorshift generator from `seed` (not 0): the same cases every run, no crate for it.
pub fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}
