//! libFuzzer entry point for [`zcftl_fuzz::cli_text`]; see that module.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zcftl_fuzz::cli_text::{run, Input};

fuzz_target!(|input: Input| {
    if let Err(e) = run(&input) {
        panic!("{e}\n{input:?}");
    }
});
