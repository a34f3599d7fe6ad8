//! Counters the FTL keeps about itself.

/// A snapshot of the FTL's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    /// Sectors the host wrote (committed writes).
    pub host_sectors_written: u64,
    /// Sectors the host read.
    pub host_sectors_read: u64,
    /// Sectors programmed to NAND: every page the FTL programmed — host
    /// data, relocated data (GC, wear leveling), meta pages (checkpoints,
    /// trim records), padding and failed programs — times sectors per page.
    /// What the device's own program counter sees.
    pub nand_sectors_written: u64,
    /// Of [`Stats::nand_sectors_written`], the meta stream's (checkpoints
    /// and trim records).
    pub meta_sectors_written: u64,
    /// Sectors read from NAND (read misses, GC, recovery).
    pub nand_sectors_read: u64,
    /// Pages programmed.
    pub nand_pages_programmed: u64,
    /// Pages programmed only partly full (flushes).
    pub padded_pages: u64,
    /// Blocks garbage collection emptied.
    pub gc_runs: u64,
    /// Sectors GC moved.
    pub gc_moved_sectors: u64,
    /// Blocks static wear leveling emptied.
    pub wear_level_moves: u64,
    /// Sectors wear leveling moved.
    pub wear_level_moved_sectors: u64,
    /// Block erases.
    pub erases: u64,
    /// Least erase count over good blocks.
    pub erase_count_min: u32,
    /// Most erase count over good blocks.
    pub erase_count_max: u32,
    /// Mean erase count over good blocks.
    pub erase_count_mean: f64,
    /// Sectors read from the cache.
    pub cache_hits: u64,
    /// Sectors loaded from NAND to serve a read.
    pub cache_misses: u64,
    /// Read-miss pages the embedder loaded outside its lock
    /// ([`Ftl::start_read`](crate::Ftl::start_read)) and the FTL adopted.
    pub loads_outside: u64,
    /// Such loads dropped because GC moved or erased the page meanwhile,
    /// or it failed to verify: located again.
    pub loads_outside_dropped: u64,
    /// Payload bytes copied by the FTL or reported copied by its embedder.
    /// The slot data path keeps this at 0.
    pub bytes_copied: u64,
    /// Sectors trimmed (or zeroed).
    pub trimmed_sectors: u64,
    /// Flushes completed.
    pub flushes: u64,
    /// Program failures handled by retiring a block.
    pub program_failures: u64,
    /// Erase failures handled by retiring a block.
    pub erase_failures: u64,
    /// Bit errors the NAND's ECC corrected on our reads.
    pub corrected_bits: u64,
    /// Blocks retired as bad (factory and grown).
    pub bad_blocks: u32,
    /// Checkpoints written.
    pub checkpoints: u64,
    /// Trim records written.
    pub trim_records: u64,
    /// Pages the last mount read (checkpoint, meta and replayed blocks).
    pub mount_pages_read: u64,
    /// Pages the last mount replayed past its checkpoint.
    pub mount_pages_replayed: u64,
    /// Blocks the last mount read from their summaries, not page by page.
    pub mount_blocks_from_summaries: u64,
    /// Bytes of RAM the logical-to-physical map holds.
    pub map_ram_bytes: u64,
    /// Bytes of RAM the translation table holds (where each translation
    /// page is, which are dirty).
    pub translation_ram_bytes: u64,
    /// Bytes of RAM the validity bitmap and per-block counts hold.
    pub validity_ram_bytes: u64,
    /// Bytes of RAM the block table holds.
    pub block_table_ram_bytes: u64,
    /// Bytes of RAM the cache's tables hold (slot table, write map, read
    /// map, cache metadata): sized by the slot count, not the array.
    pub cache_table_ram_bytes: u64,
    /// Translation pages written (write-back, cleaning, wear leveling).
    pub translation_pages_written: u64,
    /// Checkpoint chunks written (directory and block table).
    pub checkpoint_pages_written: u64,
    /// Summary pages written (each holds the summaries of several full
    /// data blocks).
    pub summary_pages_written: u64,
    /// Translation pages whose slice of the map changed since written.
    pub dirty_translation_pages: u64,
    /// Translation pages in all.
    pub translation_pages: u64,
    /// Demand-paged map: entry lookups found in the cache.
    pub map_cache_hits: u64,
    /// Demand-paged map: entry lookups that read a translation page (or
    /// found it never written).
    pub map_cache_misses: u64,
    /// Demand-paged map: translation pages written back because dirty
    /// entries crowded the cache (part of `translation_pages_written`).
    pub map_pressure_write_backs: u64,
    /// Demand-paged map: entries the cache holds at most (0: whole map).
    pub map_cache_entries: u64,
}

impl Stats {
    /// The counters of one device made of `parts` FTLs so far (`self`, 0
    /// for the first) and one more, `other`, over an array of equal parts
    /// (ftl-ublk's shards): counts and RAM add up, erase counts take the
    /// least and the most, and the mean is over equal block counts.
    pub fn with_part(&self, parts: u32, other: &Stats) -> Stats {
        Stats {
            host_sectors_written: self.host_sectors_written + other.host_sectors_written,
            host_sectors_read: self.host_sectors_read + other.host_sectors_read,
            nand_sectors_written: self.nand_sectors_written + other.nand_sectors_written,
            meta_sectors_written: self.meta_sectors_written + other.meta_sectors_written,
            nand_sectors_read: self.nand_sectors_read + other.nand_sectors_read,
            nand_pages_programmed: self.nand_pages_programmed + other.nand_pages_programmed,
            padded_pages: self.padded_pages + other.padded_pages,
            gc_runs: self.gc_runs + other.gc_runs,
            gc_moved_sectors: self.gc_moved_sectors + other.gc_moved_sectors,
            wear_level_moves: self.wear_level_moves + other.wear_level_moves,
            wear_level_moved_sectors: self.wear_level_moved_sectors
                + other.wear_level_moved_sectors,
            erases: self.erases + other.erases,
            erase_count_min: if parts == 0 {
                other.erase_count_min
            } else {
                self.erase_count_min.min(other.erase_count_min)
            },
            erase_count_max: self.erase_count_max.max(other.erase_count_max),
            erase_count_mean: (self.erase_count_mean * parts as f64 + other.erase_count_mean)
                / (parts + 1) as f64,
            cache_hits: self.cache_hits + other.cache_hits,
            cache_misses: self.cache_misses + other.cache_misses,
            loads_outside: self.loads_outside + other.loads_outside,
            loads_outside_dropped: self.loads_outside_dropped + other.loads_outside_dropped,
            bytes_copied: self.bytes_copied + other.bytes_copied,
            trimmed_sectors: self.trimmed_sectors + other.trimmed_sectors,
            flushes: self.flushes + other.flushes,
            program_failures: self.program_failures + other.program_failures,
            erase_failures: self.erase_failures + other.erase_failures,
            corrected_bits: self.corrected_bits + other.corrected_bits,
            bad_blocks: self.bad_blocks + other.bad_blocks,
            checkpoints: self.checkpoints + other.checkpoints,
            trim_records: self.trim_records + other.trim_records,
            mount_pages_read: self.mount_pages_read + other.mount_pages_read,
            mount_pages_replayed: self.mount_pages_replayed + other.mount_pages_replayed,
            mount_blocks_from_summaries: self.mount_blocks_from_summaries
                + other.mount_blocks_from_summaries,
            map_ram_bytes: self.map_ram_bytes + other.map_ram_bytes,
            translation_ram_bytes: self.translation_ram_bytes + other.translation_ram_bytes,
            validity_ram_bytes: self.validity_ram_bytes + other.validity_ram_bytes,
            block_table_ram_bytes: self.block_table_ram_bytes + other.block_table_ram_bytes,
            cache_table_ram_bytes: self.cache_table_ram_bytes + other.cache_table_ram_bytes,
            translation_pages_written: self.translation_pages_written
                + other.translation_pages_written,
            checkpoint_pages_written: self.checkpoint_pages_written
                + other.checkpoint_pages_written,
            summary_pages_written: self.summary_pages_written + other.summary_pages_written,
            dirty_translation_pages: self.dirty_translation_pages + other.dirty_translation_pages,
            translation_pages: self.translation_pages + other.translation_pages,
            map_cache_hits: self.map_cache_hits + other.map_cache_hits,
            map_cache_misses: self.map_cache_misses + other.map_cache_misses,
            map_pressure_write_backs: self.map_pressure_write_backs
                + other.map_pressure_write_backs,
            map_cache_entries: self.map_cache_entries + other.map_cache_entries,
        }
    }

    /// NAND sectors written per host sector written, every page the FTL
    /// programmed counted (0 before any write).
    pub fn write_amplification(&self) -> f64 {
        self.per_host_sector(self.nand_sectors_written)
    }

    /// The meta stream's share of [`Stats::write_amplification`]: meta
    /// sectors programmed per host sector written.
    pub fn meta_write_amplification(&self) -> f64 {
        self.per_host_sector(self.meta_sectors_written)
    }

    fn per_host_sector(&self, sectors: u64) -> f64 {
        if self.host_sectors_written == 0 {
            0.0
        } else {
            sectors as f64 / self.host_sectors_written as f64
        }
    }

    /// Bytes of RAM the FTL's tables hold that grow with the array (map,
    /// translation table, validity, block table); the slot pool and the
    /// cache tables sized by it are the embedder's choice and not counted.
    pub fn table_ram_bytes(&self) -> u64 {
        self.map_ram_bytes
            + self.translation_ram_bytes
            + self.validity_ram_bytes
            + self.block_table_ram_bytes
    }

    /// Share of map lookups the demand-paged map's cache served (0 for a
    /// whole map, which never misses).
    pub fn map_cache_hit_rate(&self) -> f64 {
        hit_rate(self.map_cache_hits, self.map_cache_misses)
    }

    /// Share of read sectors served from the cache.
    pub fn cache_hit_rate(&self) -> f64 {
        hit_rate(self.cache_hits, self.cache_misses)
    }
}

/// `hits` of `hits + misses` (0 before any lookup).
fn hit_rate(hits: u64, misses: u64) -> f64 {
    let n = hits + misses;
    if n == 0 {
        0.0
    } else {
        hits as f64 / n as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_add_up_and_erase_counts_span_them() {
        let part = |w: u64, min: u32, max: u32, mean: f64| Stats {
            host_sectors_written: w,
            nand_sectors_written: 2 * w,
            erase_count_min: min,
            erase_count_max: max,
            erase_count_mean: mean,
            map_ram_bytes: 10,
            ..Stats::default()
        };
        let all = Stats::default()
            .with_part(0, &part(100, 3, 9, 5.0))
            .with_part(1, &part(300, 1, 4, 2.0))
            .with_part(2, &part(200, 2, 12, 8.0));
        assert_eq!(all.host_sectors_written, 600);
        assert_eq!(all.write_amplification(), 2.0);
        assert_eq!((all.erase_count_min, all.erase_count_max), (1, 12));
        assert_eq!(all.erase_count_mean, 5.0);
        assert_eq!(all.table_ram_bytes(), 30);
    }
}
