//! Shared by the benchmarks: the process's own CPU time and memory, from procfs.

/// User plus system CPU time of this process from `/proc/self/stat`, in seconds; `None`
/// where there is no procfs. Ticks are 1/100 s on Linux (`CLK_TCK`), fine over two seconds.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; the fields after its closing parenthesis do not.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// The resident set size of this process from `/proc/self/statm`, in bytes; `None` where
/// there is no procfs. Pages are taken as 4 KiB, as on every Linux this runs on.
#[allow(dead_code)]
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
