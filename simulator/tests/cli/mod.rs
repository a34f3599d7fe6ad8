//! Helpers shared by the tests that run the `ftl-sim` binary.
#![allow(dead_code)] // each test binary uses a different subset

use std::process::{Command, Output};

use serde_json::Value;

/// Keys read from the wall clock, anywhere in a report or `sweep.json`:
/// the only ones allowed to differ between two runs of one configuration.
pub const WALL: &[&str] = &[
    "wall_seconds",
    "precondition_wall_seconds",
    "sim_ios_per_wall_s",
];

/// Runs `ftl-sim args…` to the end.
pub fn ftl_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ftl-sim"))
        .args(args)
        .output()
        .expect("ftl-sim runs")
}

/// `v` without the wall-clock keys, at any depth.
pub fn without_wall(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for k in WALL {
                    m.remove(*k);
                }
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}
