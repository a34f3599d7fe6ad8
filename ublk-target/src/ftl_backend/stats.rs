//! The backend's statistics: the FTL's counters (copied under the lock),
//! the pool's, and what opening replayed, as the stats socket's JSON keys.

use std::sync::atomic::Ordering;

use ftl_core::Stats;

use super::FtlBackend;

impl FtlBackend {
    /// The statistics as `(json key, value)` pairs.
    pub(super) fn stats_list(&self) -> Vec<(&'static str, serde_json::Value)> {
        let s: Stats = self.lock().stats();
        vec![
            ("target", "ftl".into()),
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
                self.zero_fill_bytes.load(Ordering::Relaxed).into(),
            ),
            ("slots", self.pool.slot_count().into()),
            ("slots_mlocked", self.pool.is_locked().into()),
            (
                "crash_journal",
                self.journal_path
                    .as_ref()
                    .map_or(serde_json::Value::Null, |p| p.display().to_string().into()),
            ),
            ("journal_replayed_writes", self.replayed.writes.into()),
            ("journal_replayed_trims", self.replayed.trims.into()),
            ("journal_skipped_writes", self.replayed.skipped.into()),
        ]
    }
}
