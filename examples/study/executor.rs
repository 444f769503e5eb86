//! Runs any subset of the plan on `--threads` workers (each run sequential), longest first,
//! with a progress line per finished run, and returns the records in plan order.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::data::Pool;
use crate::plan::{RunSpec, Scale};
use crate::record::RunRecord;
use crate::run::{failed, run};
use crate::setting::DatasetId;

/// `1m23s` or `4.2s`.
pub fn clock(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{seconds:.1}s")
    }
}

/// Progress of one phase: finished runs and their estimated cost, for the ETA.
struct Progress {
    done: usize,
    est_done: f64,
}

/// Runs `specs` on `threads` workers and returns their records sorted by run id. The result
/// does not depend on `threads`: every run is deterministic on its own.
pub fn execute(
    phase: &str,
    specs: &[RunSpec],
    pools: &BTreeMap<DatasetId, Pool>,
    scale: &Scale,
    threads: usize,
) -> Vec<RunRecord> {
    let total = specs.len();
    let est_total: f64 = specs.iter().map(|s| s.est_s).sum();
    let workers = threads.max(1).min(total.max(1));
    eprintln!(
        "== {phase}: {total} runs on {workers} thread(s), estimated {}",
        clock(est_total / workers as f64)
    );
    let start = Instant::now();
    let mut order: Vec<usize> = (0..total).collect();
    order.sort_by(|&a, &b| {
        specs[b]
            .est_s
            .total_cmp(&specs[a].est_s)
            .then(specs[a].id.cmp(&specs[b].id))
    });
    let next = AtomicUsize::new(0);
    let progress = Mutex::new(Progress {
        done: 0,
        est_done: 0.0,
    });
    let slots: Vec<Mutex<Option<RunRecord>>> = specs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let spec = &specs[i];
                    let record = match pools.get(&spec.dataset) {
                        Some(pool) => run(spec, pool, scale),
                        None => failed(spec, 0, "dataset not loaded".to_string()),
                    };
                    report(phase, &record, &progress, total, est_total, start);
                    *slots[i].lock().expect("result slot") = Some(record);
                }
            });
        }
    });
    let mut records: Vec<RunRecord> = slots
        .into_iter()
        .filter_map(|m| m.into_inner().expect("result slot"))
        .collect();
    records.sort_by_key(|r| r.spec.id);
    eprintln!(
        "== {phase}: done in {}",
        clock(start.elapsed().as_secs_f64())
    );
    records
}

/// One progress line: count, elapsed, ETA, the run and its results.
fn report(
    phase: &str,
    r: &RunRecord,
    progress: &Mutex<Progress>,
    total: usize,
    est_total: f64,
    start: Instant,
) {
    let mut p = progress.lock().expect("progress");
    p.done += 1;
    p.est_done += r.spec.est_s;
    let elapsed = start.elapsed().as_secs_f64();
    let eta = if p.est_done > 0.0 {
        elapsed * (est_total - p.est_done).max(0.0) / p.est_done
    } else {
        0.0
    };
    let status = match r.status_name() {
        "ok" => String::new(),
        s => format!(" [{s}]"),
    };
    let collapsed = if r.last.collapsed && r.finished() {
        " collapsed"
    } else {
        ""
    };
    eprintln!(
        "[{phase} {:>5}/{total} {:>7} eta {:>7}] {}: val {:.3} test {:.3} (sel), test {:.3} (last){collapsed}{status} {:.1}s",
        p.done,
        clock(elapsed),
        clock(eta),
        r.spec.label(),
        r.selected.val_acc,
        r.selected.test_acc,
        r.last.test_acc,
        r.wall_s.unwrap_or(0.0),
    );
}
