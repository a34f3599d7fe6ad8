//! `ftl-ublk`: zcftl's flash translation layer as a Linux block device
//! (`/dev/ublkbN`). Everything lives in the library (`lib.rs`).

use clap::Parser;

fn main() {
    ftl_ublk::logging::init();
    if let Err(e) = ftl_ublk::run(ftl_ublk::args::Cli::parse()) {
        eprintln!("ftl-ublk: {}", e.message());
        std::process::exit(1);
    }
}
