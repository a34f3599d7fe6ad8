//! [`TimingConfig`]: the NAND's latencies, its channel speed and the two
//! model switches, with defaults taken from MQSim and checked in
//! [`TimingConfig::validate`].
//!
//! # Where the defaults come from
//!
//! MQSim (CMU-SAFARI/MQSim, FAST '18), the root `ssdconfig.xml` at HEAD
//! `7ec40e3b198e8bd117f992f051cd610e330e079e` (the file last changed in
//! `e338620445b62c1840ea1b1e642d17dcffa45cb4`):
//!
//! | `ssdconfig.xml` element | value | here |
//! |---|---|---|
//! | `Page_Read_Latency_LSB` / `_CSB` / `_MSB` | 75000 / 75000 / 75000 ns | `t_read_ns` = 75 µs |
//! | `Page_Program_Latency_LSB` / `_CSB` / `_MSB` | 750000 / 750000 / 750000 ns | `t_prog_ns` = 750 µs |
//! | `Block_Erase_Latency` | 3800000 ns | `t_erase_ns` = 3.8 ms |
//! | `Channel_Transfer_Rate` × `Flash_Channel_Width` | 333 MT/s × 1 byte | `channel_bytes_per_s` = 333 000 000 |
//!
//! MQSim distinguishes LSB, CSB and MSB page latencies; its default file
//! gives all three the same value, so there is nothing to pick. The model
//! has one latency per operation because `ftl_core::Geometry` does not say
//! which bit of a cell a page holds; if a config ever wants MLC/TLC
//! spreads, the mean is the value to use (what MQSim's `SSD_Device.cpp`
//! hands its FTL as `average_flash_read_latency` / `_write_latency`).
//! (`src/exec/Flash_Parameter_Set.cpp`'s compiled-in fallbacks agree at
//! HEAD; an older revision of `ssdconfig.xml`, 0d76b1d, had 75 µs programs.)
//!
//! `command_overhead_ns` = 290 ns is MQSim's single-plane read command
//! time on its ONFI NV-DDR2 channel (`src/ssd/ONFI_Channel_NVDDR2.cpp`,
//! `ReadCommandTime[1] = t_CS + 6·t_WC + t_WB + t_RR` with the defaults of
//! `ONFI_Channel_NVDDR2.h`: 20 + 6·25 + 100 + 20). MQSim's program (361 ns)
//! and erase (220 ns) command times differ by less than 0.2 % of a 16 KiB
//! page's transfer and 0.01 % of tPROG, so one overhead serves all three;
//! MQSim's extra cycles per additional plane (t_DBSY 500 ns + address)
//! are not modelled.
//!
//! The two switches are this model's, not MQSim's (see the module docs of
//! `timing`): `cache_register` (ONFI READ CACHE / CACHE PROGRAM) and
//! `independent_plane_reads` (asynchronous independent plane reads of
//! recent 3D NAND). Both default to on; both off is MQSim's and NVMeVirt's
//! die-granular behaviour.

use serde::{Deserialize, Serialize};

/// Array latencies above this (10 s) are refused as a unit mistake (µs or
/// ms typed into a nanosecond field), and keep every sum in `u64`.
pub const MAX_LATENCY_NS: u64 = 10_000_000_000;

/// The timing of one NAND array and its channels. Serialisable, so a TOML
/// or JSON file can set any subset of the fields; the rest keep their
/// defaults, and an unknown field is an error rather than a silent typo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimingConfig {
    /// tR: sensing one page (or one page per plane of a multi-plane read)
    /// into the die's registers, in ns.
    pub t_read_ns: u64,
    /// tPROG: programming one page (or one per plane of a multi-plane
    /// program) from the registers into the array, in ns.
    pub t_prog_ns: u64,
    /// tBERS: erasing one block (or one per plane of a multi-plane
    /// erase), in ns.
    pub t_erase_ns: u64,
    /// Channel speed in bytes per second (decimal: 333 MT/s on an 8-bit
    /// bus is 333 000 000).
    pub channel_bytes_per_s: u64,
    /// Command and address cycles of every operation, in ns. They occupy
    /// the channel, before the data of a program and before the array time
    /// of a read or erase.
    pub command_overhead_ns: u64,
    /// The die has a cache register beside each plane's data register
    /// (ONFI READ CACHE 31h, CACHE PROGRAM 15h): a read's data waits in it
    /// for the channel while the array senses the next page, and the next
    /// program's data loads into it while the array programs. `false`: the
    /// array is held until a read's data has left, and a program's data
    /// transfer waits for the array.
    pub cache_register: bool,
    /// A single-plane read holds only its plane, so the planes of one die
    /// read independently (asynchronous independent plane reads). `false`:
    /// every read holds the whole die, as programs and erases always do.
    pub independent_plane_reads: bool,
}

impl Default for TimingConfig {
    /// MQSim's default `ssdconfig.xml` (see the module docs for the
    /// elements and the commit), with both model switches on.
    fn default() -> Self {
        TimingConfig {
            t_read_ns: 75_000,
            t_prog_ns: 750_000,
            t_erase_ns: 3_800_000,
            channel_bytes_per_s: 333_000_000,
            command_overhead_ns: 290,
            cache_register: true,
            independent_plane_reads: true,
        }
    }
}

/// Why a [`TimingConfig`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimingConfigError {
    /// The channel moves no bytes: every transfer would take forever.
    #[error("channel transfer rate is zero")]
    ZeroTransferRate,
    /// An array latency (tR, tPROG, tBERS) is zero: a unit mistake, and it
    /// makes every throughput bound infinite.
    #[error("{0} is zero")]
    ZeroLatency(&'static str),
    /// A latency or the command overhead is above [`MAX_LATENCY_NS`].
    #[error("{0} exceeds 10 s (is it in ns?)")]
    LatencyTooLarge(&'static str),
}

impl TimingConfig {
    /// Checks the configuration: a non-zero transfer rate, non-zero array
    /// latencies, and nothing above [`MAX_LATENCY_NS`]. A zero command
    /// overhead is allowed (an idealised bus).
    pub fn validate(&self) -> Result<(), TimingConfigError> {
        if self.channel_bytes_per_s == 0 {
            return Err(TimingConfigError::ZeroTransferRate);
        }
        for (name, ns) in [
            ("t_read_ns", self.t_read_ns),
            ("t_prog_ns", self.t_prog_ns),
            ("t_erase_ns", self.t_erase_ns),
        ] {
            if ns == 0 {
                return Err(TimingConfigError::ZeroLatency(name));
            }
        }
        for (name, ns) in [
            ("t_read_ns", self.t_read_ns),
            ("t_prog_ns", self.t_prog_ns),
            ("t_erase_ns", self.t_erase_ns),
            ("command_overhead_ns", self.command_overhead_ns),
        ] {
            if ns > MAX_LATENCY_NS {
                return Err(TimingConfigError::LatencyTooLarge(name));
            }
        }
        Ok(())
    }

    /// Nanoseconds the channel needs to move `bytes`, rounded up, so any
    /// non-empty transfer takes at least 1 ns. Exact integer arithmetic:
    /// the same bytes always take the same time.
    pub fn transfer_ns(&self, bytes: u64) -> u64 {
        // u128: bytes · 10⁹ overflows u64 above ~18 GB; the rate is ≥ 1
        // after `validate`, and `max(1)` keeps an unvalidated config from
        // dividing by zero.
        let rate = u128::from(self.channel_bytes_per_s.max(1));
        let ns = (u128::from(bytes) * 1_000_000_000).div_ceil(rate);
        u64::try_from(ns).unwrap_or(u64::MAX)
    }

    /// The channel speed in MiB/s (2²⁰ bytes), as `ftl-sim --json` reports
    /// it.
    pub fn channel_mib_s(&self) -> f64 {
        self.channel_bytes_per_s as f64 / f64::from(1u32 << 20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_mqsim_and_valid() {
        let c = TimingConfig::default();
        c.validate().unwrap();
        assert_eq!(
            (c.t_read_ns, c.t_prog_ns, c.t_erase_ns),
            (75_000, 750_000, 3_800_000)
        );
        assert_eq!(c.channel_bytes_per_s, 333_000_000);
        assert!((c.channel_mib_s() - 317.57).abs() < 0.01);
    }

    #[test]
    fn nonsense_is_refused() {
        let ok = TimingConfig::default();
        let cases = [
            (
                TimingConfig {
                    channel_bytes_per_s: 0,
                    ..ok
                },
                TimingConfigError::ZeroTransferRate,
            ),
            (
                TimingConfig { t_read_ns: 0, ..ok },
                TimingConfigError::ZeroLatency("t_read_ns"),
            ),
            (
                TimingConfig { t_prog_ns: 0, ..ok },
                TimingConfigError::ZeroLatency("t_prog_ns"),
            ),
            (
                TimingConfig {
                    t_erase_ns: 0,
                    ..ok
                },
                TimingConfigError::ZeroLatency("t_erase_ns"),
            ),
            (
                TimingConfig {
                    t_erase_ns: MAX_LATENCY_NS + 1,
                    ..ok
                },
                TimingConfigError::LatencyTooLarge("t_erase_ns"),
            ),
            (
                TimingConfig {
                    command_overhead_ns: u64::MAX,
                    ..ok
                },
                TimingConfigError::LatencyTooLarge("command_overhead_ns"),
            ),
        ];
        for (c, want) in cases {
            assert_eq!(c.validate(), Err(want), "{c:?}");
        }
        let free_bus = TimingConfig {
            command_overhead_ns: 0,
            ..ok
        };
        assert_eq!(free_bus.validate(), Ok(()));
    }

    #[test]
    fn transfer_time_rounds_up_and_never_overflows() {
        let c = TimingConfig::default();
        // 4096 B at 333 MB/s = 12 300.3 ns.
        assert_eq!(c.transfer_ns(4096), 12_301);
        assert_eq!(c.transfer_ns(0), 0);
        assert_eq!(c.transfer_ns(1), 4);
        let slow = TimingConfig {
            channel_bytes_per_s: 1,
            ..c
        };
        assert_eq!(slow.transfer_ns(u64::MAX), u64::MAX);
        let broken = TimingConfig {
            channel_bytes_per_s: 0,
            ..c
        };
        assert_eq!(broken.transfer_ns(1), 1_000_000_000);
    }

    #[test]
    fn serde_fills_defaults_and_refuses_typos() {
        let c: TimingConfig = serde_json::from_str(r#"{"t_read_ns": 50000}"#).unwrap();
        assert_eq!(
            c,
            TimingConfig {
                t_read_ns: 50_000,
                ..TimingConfig::default()
            }
        );
        let back: TimingConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        assert!(serde_json::from_str::<TimingConfig>(r#"{"t_raed_ns": 1}"#).is_err());
    }
}
