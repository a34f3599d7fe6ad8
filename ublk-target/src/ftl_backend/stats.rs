//! The backend's statistics: the FTL's counters (copied under the lock),
//! the pool's, and what opening replayed, as the stats socket's JSON keys,
//! for one backend or the shards of a device.

use std::sync::atomic::Ordering;

use ftl_core::Stats;

use super::FtlBackend;

impl FtlBackend {
    /// The statistics as `(json key, value)` pairs.
    pub(super) fn stats_list(&self) -> Vec<(&'static str, serde_json::Value)> {
        stats_of(std::slice::from_ref(self))
    }

    /// The FTL's counters, copied under the lock.
    fn ftl_stats(&self) -> Stats {
        self.lock().stats()
    }
}

/// The statistics of a device made of `parts` (its shards, or one
/// backend) as `(json key, value)` pairs: the FTLs' counters combined
/// ([`Stats::with_part`]), the pools' and the replays' added up.
pub fn stats_of(parts: &[FtlBackend]) -> Vec<(&'static str, serde_json::Value)> {
    let mut s = Stats::default();
    for (k, p) in parts.iter().enumerate() {
        s = s.with_part(k as u32, &p.ftl_stats());
    }
    let sum = |f: &dyn Fn(&FtlBackend) -> u64| parts.iter().map(f).sum::<u64>();
    let journals: Vec<serde_json::Value> = parts
        .iter()
        .filter_map(|p| p.journal_path.as_ref())
        .map(|p| p.display().to_string().into())
        .collect();
    let journal = match journals.len() {
        0 => serde_json::Value::Null,
        1 => journals[0].clone(),
        _ => journals.into(),
    };
    vec![
        ("target", "ftl".into()),
        ("shards", parts.len().into()),
        ("write_amplification", s.write_amplification().into()),
        ("host_sectors_written", s.host_sectors_written.into()),
        ("host_sectors_read", s.host_sectors_read.into()),
        ("nand_sectors_written", s.nand_sectors_written.into()),
        ("nand_sectors_read", s.nand_sectors_read.into()),
        ("gc_runs", s.gc_runs.into()),
        ("gc_moved_sectors", s.gc_moved_sectors.into()),
        ("erases", s.erases.into()),
        ("erase_count_min", s.erase_count_min.into()),
        ("erase_count_max", s.erase_count_max.into()),
        ("cache_hits", s.cache_hits.into()),
        ("cache_misses", s.cache_misses.into()),
        ("cache_hit_rate", s.cache_hit_rate().into()),
        ("loads_outside_lock", s.loads_outside.into()),
        ("loads_outside_dropped", s.loads_outside_dropped.into()),
        ("ftl_bytes_copied", s.bytes_copied.into()),
        ("trimmed_sectors", s.trimmed_sectors.into()),
        ("flushes", s.flushes.into()),
        ("bad_blocks", s.bad_blocks.into()),
        ("map_cache_entries", s.map_cache_entries.into()),
        ("map_cache_hits", s.map_cache_hits.into()),
        ("map_cache_misses", s.map_cache_misses.into()),
        ("map_cache_hit_rate", s.map_cache_hit_rate().into()),
        (
            "map_pressure_write_backs",
            s.map_pressure_write_backs.into(),
        ),
        ("table_ram_bytes", s.table_ram_bytes().into()),
        (
            "zero_fill_bytes",
            sum(&|p| p.zero_fill_bytes.load(Ordering::Relaxed)).into(),
        ),
        ("slots", sum(&|p| u64::from(p.pool.slot_count())).into()),
        (
            "slots_mlocked",
            parts.iter().all(|p| p.pool.is_locked()).into(),
        ),
        ("crash_journal", journal),
        (
            "journal_replayed_writes",
            sum(&|p| p.replayed.writes).into(),
        ),
        ("journal_replayed_trims", sum(&|p| p.replayed.trims).into()),
        (
            "journal_skipped_writes",
            sum(&|p| p.replayed.skipped).into(),
        ),
    ]
}
