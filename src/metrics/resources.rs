//! How close an invocation comes to the function's configured limits: peak memory (from
//! `/proc/self/status`) against `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, and time used against
//! the time the invocation was given. Published as EMF gauges so alarms can fire before
//! Lambda kills the function for running out of either.

use std::time::Duration;

/// Peak resident set size in bytes (`VmHWM`), if the platform reports it.
pub fn max_rss_bytes() -> Option<u64> {
    parse_vm_hwm(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// `VmHWM:    123456 kB` -> bytes.
pub fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// The gauges: `MaxRssMb`, and with a known limit `MemoryLimitMb` and `MemoryUsedRatio`;
/// `DurationToTimeoutRatio` is the share of the invocation's time budget (used plus
/// what was left before the deadline) that it used.
pub fn gauges(
    max_rss_bytes: Option<u64>,
    memory_limit_mb: Option<f64>,
    used: Duration,
    remaining: Duration,
) -> Vec<(&'static str, f64, &'static str)> {
    let mut out = Vec::new();
    if let Some(rss) = max_rss_bytes {
        let mb = rss as f64 / (1024.0 * 1024.0);
        out.push(("MaxRssMb", mb, "Megabytes"));
        if let Some(limit) = memory_limit_mb.filter(|l| *l > 0.0) {
            out.push(("MemoryLimitMb", limit, "Megabytes"));
            out.push(("MemoryUsedRatio", mb / limit, "None"));
        }
    }
    let budget = used + remaining;
    if !budget.is_zero() {
        out.push((
            "DurationToTimeoutRatio",
            used.as_secs_f64() / budget.as_secs_f64(),
            "None",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_peak_memory_and_ratios() {
        let status =
            "Name:\ts3-sentinel\nVmPeak:\t  300000 kB\nVmHWM:\t   65536 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(64 * 1024 * 1024));
        assert_eq!(parse_vm_hwm("Name: x\n"), None);
        let g = gauges(
            Some(64 * 1024 * 1024),
            Some(128.0),
            Duration::from_secs(9),
            Duration::from_secs(1),
        );
        let get = |n: &str| g.iter().find(|(k, _, _)| *k == n).map(|(_, v, _)| *v);
        assert_eq!(get("MaxRssMb"), Some(64.0));
        assert_eq!(get("MemoryUsedRatio"), Some(0.5));
        assert_eq!(get("DurationToTimeoutRatio"), Some(0.9));
        assert!(gauges(None, None, Duration::ZERO, Duration::ZERO).is_empty());
        // On Linux the process itself reports a peak.
        if cfg!(target_os = "linux") {
            assert!(max_rss_bytes().unwrap() > 0);
        }
    }
}
