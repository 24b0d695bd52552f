//! What the benchmarks read of a broker's process in `/proc` (shared by `broker` and `hostile`;
//! a directory without a `main.rs`, so that cargo does not take it for a benchmark of its own).

/// Resident memory, KiB (`VmRSS`), or 0 once the process is gone.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// User + system CPU time of all the process's threads, in seconds, or `None` if it cannot be
/// read. `/proc` counts clock ticks of 1/100 s, as on every Linux. After the command name (in
/// parentheses, and it may hold spaces) come the fields from the third on: utime is the 14th,
/// stime the 15th (proc(5)).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |field: usize| fields.get(field - 3)?.parse::<u64>().ok();
    Some((ticks(14)? + ticks(15)?) as f64 / 100.0)
}
