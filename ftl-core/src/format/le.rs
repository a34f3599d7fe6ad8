//! Little-endian integers at byte offsets: the one helper every on-flash
//! and on-disk format of zcftl uses (spare-area records, meta pages, image
//! headers, crash journals).
//!
//! Readers take the bytes as they come from the medium and return `None`
//! when the field runs past the end, so a decoder never panics on short or
//! hostile input. Writers panic on a short buffer: the encoder sized it.

/// The `u16` at `at`, if the bytes are there.
#[inline]
pub fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(array(b, at)?))
}

/// The `u32` at `at`, if the bytes are there.
#[inline]
pub fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(array(b, at)?))
}

/// The `u64` at `at`, if the bytes are there.
#[inline]
pub fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(array(b, at)?))
}

/// Writes `v` at `at`.
#[inline]
pub fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

/// Writes `v` at `at`.
#[inline]
pub fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Writes `v` at `at`.
#[inline]
pub fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn array<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bounds() {
        let mut b = [0u8; 16];
        put_u16(&mut b, 0, 0xBEEF);
        put_u32(&mut b, 2, 0x0123_4567);
        put_u64(&mut b, 6, 0x89AB_CDEF_0011_2233);
        assert_eq!(b[0], 0xEF, "little-endian");
        assert_eq!(u16_at(&b, 0), Some(0xBEEF));
        assert_eq!(u32_at(&b, 2), Some(0x0123_4567));
        assert_eq!(u64_at(&b, 6), Some(0x89AB_CDEF_0011_2233));
        assert_eq!(u64_at(&b, 9), None);
        assert_eq!(u32_at(&b, usize::MAX), None);
        assert_eq!(u16_at(&b, 14), Some(0));
        assert_eq!(u16_at(&b, 15), None);
    }
}
