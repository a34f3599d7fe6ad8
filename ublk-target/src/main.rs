//! Placeholder: `ftl-ublk` lands here.
fn main() {
    eprintln!("ftl-ublk: not built yet");
    std::process::exit(1);
}
