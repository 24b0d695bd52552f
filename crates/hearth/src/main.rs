//! The `hearth` binary: parses the command line and runs it.

use clap::Parser;

/// jemalloc rather than glibc's malloc for the hub: 12 to 13 % less CPU per brokered message and
/// a QoS 0 fan-in near Mosquitto's rate, measured side by side (README, *Performance*). Its
/// background thread gives freed pages back a second after they go unused (`.cargo/config.toml`).
/// x86_64 only: a jemalloc built for 4 KiB pages fails on a kernel with larger ones (a
/// Raspberry Pi 5's 16 KiB), and it has not been measured on ARM.
#[cfg(all(feature = "jemalloc", target_arch = "x86_64"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = hearth::cli::Cli::parse();
    hearth::init_logging(cli.verbose);
    match hearth::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hearth: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
