//! Every `unsafe` block of ftl-ublk, behind safe interfaces; the crate
//! root denies unsafe code everywhere else.
//!
//! - [`slots`]: the slot memory. Safe code reaches a slot's bytes only
//!   through something that proves exclusive (or shared read) access: an
//!   owned [`slots::SlotPool`] borrowed `&mut`/`&`, the FTL's
//!   [`slots::PoolMemory`], or a [`slots::WriteLease`]/[`slots::ReadLease`]
//!   taken from it for one request. Leases are checked at run time, so a
//!   bug anywhere (ftl-core's grant bookkeeping included) is a panic, never
//!   two writers on one slot.
//! - [`io_list`]: one request's payload places as raw iovecs, handed to the
//!   kernel (`preadv`/`pwritev` on `/dev/ublkcN`) or memcpy'd in copy mode.
//! - [`process`]: fork, pipes, poll, signals and other process calls
//!   libc makes unsafe.
//!
//! The memory maps themselves are the simulator's [`simulator::mmap`]
//! (the workspace's one mmap wrapper). libublk's buffers are reached
//! through its safe API only: nothing here hands them to the kernel.

pub mod io_list;
pub mod process;
pub mod slots;
