//! RAM accounting: what each table holds, for `Stats`.

use alloc::vec::Vec;

/// Bytes a vector's buffer holds (its capacity, not its length).
pub fn vec_bytes<T>(v: &Vec<T>) -> usize {
    v.capacity() * core::mem::size_of::<T>()
}
