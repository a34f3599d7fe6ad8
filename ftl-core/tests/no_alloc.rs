//! After construction, the I/O paths — write (slot path and copying path),
//! read (hits and misses), trim, flush, garbage collection and wear
//! leveling — make no heap allocation. Proven with a counting global
//! allocator; this file holds a single test so no other test's allocations
//! are counted.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use common::*;
use ftl_core::{FtlConfig, Geometry, Handle, Lba, Segment, SlotMemory};

struct Counting;

thread_local! {
    /// Armed on the test's own thread only: the test harness's other
    /// threads allocate whenever they like.
    static ARMED: Cell<bool> = const { Cell::new(false) };
}
static ALLOCS: AtomicU64 = AtomicU64::new(0);

fn arm(on: bool) {
    ARMED.with(|a| a.set(on));
}

fn armed() -> bool {
    // `try_with`: during thread teardown the slot may be gone.
    ARMED.try_with(|a| a.get()).unwrap_or(false)
}

// SAFETY: defers every call to the system allocator unchanged; it only
// counts calls made on an armed thread.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if armed() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if armed() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn io_paths_allocate_nothing_after_init() {
    let geo = Geometry::small(16, 8);
    let cfg = FtlConfig {
        handles: 4,
        max_io_sectors: 8,
        wear_leveling_bound: 1,
        checkpoint_interval_pages: 64,
        over_provisioning_percent: 20,
        ..FtlConfig::default()
    };
    let mut ftl = fresh(geo, cfg, 8);
    let n = ftl.logical_sectors();
    // Everything the workload needs is prepared before arming.
    let data: Vec<Vec<u8>> = (0..4).map(|v| pattern(4096, 0, v)).collect();
    let mut buf = vec![0u8; 4096];
    let mut rng = Rng(3);

    arm(true);
    for i in 0..20 * n {
        let lba = if i % 3 == 0 {
            rng.below(n / 8)
        } else {
            rng.below(n)
        };
        if i % 2 == 0 {
            let g = ftl
                .begin_write(Handle((i % 4) as u32), Lba(lba), 1)
                .unwrap();
            let slot = ftl.write_slots(&g)[0];
            ftl.slot_memory_mut()
                .slot_mut(slot)
                .copy_from_slice(&data[(i % 4) as usize]);
            ftl.commit_write(g).unwrap();
        } else {
            ftl.write(Lba(lba), &data[(i % 4) as usize]).unwrap();
        }
        if i % 7 == 0 {
            let r = ftl.begin_read(Handle(1), Lba(rng.below(n)), 1).unwrap();
            if let Segment::Slot(s) = ftl.read_segments(&r)[0] {
                std::hint::black_box(ftl.slot_memory().slot(s)[0]);
            }
            ftl.end_read(r);
            ftl.read(Lba(rng.below(n)), &mut buf).unwrap();
        }
        if i % 53 == 0 {
            ftl.trim(Lba(rng.below(n - 4)), 4).unwrap();
        }
        if i % 97 == 0 {
            ftl.flush().unwrap();
        }
    }
    arm(false);

    let st = ftl.stats();
    assert!(st.gc_runs > 0, "GC did not run: {st:?}");
    assert!(st.cache_misses > 0, "no read miss: {st:?}");
    assert!(st.wear_level_moves > 0, "wear leveling did not run: {st:?}");
    assert_eq!(
        ALLOCS.load(Ordering::SeqCst),
        0,
        "heap allocations on the I/O path"
    );

    // The counter itself works: an allocation while armed is seen.
    arm(true);
    std::hint::black_box(vec![0u8; 16]);
    arm(false);
    assert_eq!(
        ALLOCS.load(Ordering::SeqCst),
        1,
        "the counting allocator counts nothing"
    );
}
