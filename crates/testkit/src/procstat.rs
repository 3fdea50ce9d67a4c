//! CPU time and memory of processes (and their descendants), from /proc,
//! for benchmarks.

use std::time::Duration;

/// CPU time (user + system) of one process.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command name: state is field 3, utime 14, stime 15.
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Resident memory of one process, MiB.
pub fn rss_mib(pid: u32) -> f64 {
    mib_field(pid, "status", "VmRSS:")
}

/// Proportional memory of one process, MiB: its private pages plus its
/// share of the pages it shares with others (libraries, memory shared
/// between a browser's processes), so a sum over processes counts each
/// page once. 0 when the kernel does not say.
pub fn pss_mib(pid: u32) -> f64 {
    mib_field(pid, "smaps_rollup", "Pss:")
}

/// The kB figure after `field` in `/proc/PID/file`, in MiB (0 when absent).
fn mib_field(pid: u32, file: &str, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// [`pss_mib`] summed over `pids`.
pub fn pss_total(pids: &[u32]) -> f64 {
    pids.iter().map(|&p| pss_mib(p)).sum()
}

/// The parent of a process.
fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// `root` and all its descendants now, each with its command name.
pub fn tree(root: u32) -> Vec<(u32, String)> {
    let all: Vec<u32> = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let mut out = vec![root];
    let mut grew = true;
    while grew {
        grew = false;
        for &p in &all {
            if !out.contains(&p) && parent(p).is_some_and(|pp| out.contains(&pp)) {
                out.push(p);
                grew = true;
            }
        }
    }
    out.into_iter()
        .map(|p| {
            let name = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
            (p, name.trim().to_owned())
        })
        .collect()
}

/// The first process whose command name is `name`, below `root`.
pub fn find_below(root: u32, name: &str) -> Option<u32> {
    tree(root)
        .into_iter()
        .find(|(_, n)| n == name)
        .map(|(p, _)| p)
}

/// CPU time and RSS summed over `pids`.
pub fn total(pids: &[u32]) -> (Duration, f64) {
    pids.iter().fold((Duration::ZERO, 0.0), |(c, r), &p| {
        (c + cpu_time(p), r + rss_mib(p))
    })
}

/// The p-th quantile (0…1) of `v` (sorted in place); NaN when empty.
pub fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_resident_and_proportional_memory() {
        let me = std::process::id();
        let (rss, pss) = (rss_mib(me), pss_mib(me));
        assert!(rss > 1.0, "RSS {rss} MiB");
        // Shared pages count in full in RSS, in part in PSS.
        assert!(
            pss > 0.0 && pss <= rss + 0.5,
            "PSS {pss} MiB against RSS {rss} MiB"
        );
        // Read again a moment later: the process's memory moves a little.
        let twice = pss_total(&[me, me]);
        assert!((twice - 2.0 * pss).abs() < 2.0, "{twice} against 2 × {pss}");
        assert_eq!(rss_mib(u32::MAX), 0.0, "no such process");
    }
}
