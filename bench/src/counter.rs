//! Group (c), the Python half: the reference examples' counter, 2 processes x N increments,
//! `multiprocessing.Value` with `get_lock()` against a shmgen mutex field and a shmgen atomic
//! field, by `python/bench_counter.py --json` (which interleaves the three in every
//! repetition and checks every total). The Rust rows come from group (a)/(b)'s contended runs,
//! which are the same counter.

use crate::report::{Goal, Ratio, Report, Unit};
use crate::{count, Cfg};

/// Runs the Python rows of group (c) and the comparisons of the whole group.
pub fn run(cfg: &Cfg, r: &mut Report) {
    let n = cfg.counter_n();
    r.declare(
        "c.value",
        'c',
        &format!(
            "Python, multiprocessing.Value + get_lock(): 2 x {} (total)",
            count(n)
        ),
        Unit::Ms,
    );
    r.declare(
        "c.py_mutex",
        'c',
        &format!(
            "Python, shmgen mutex field, with lock(): 2 x {} (total)",
            count(n)
        ),
        Unit::Ms,
    );
    r.declare(
        "c.py_atomic",
        'c',
        &format!(
            "Python, shmgen atomic field, add(1): 2 x {} (total)",
            count(n)
        ),
        Unit::Ms,
    );
    let keys = [
        ("value", "c.value"),
        ("mutex", "c.py_mutex"),
        ("atomic", "c.py_atomic"),
    ];
    match cfg.python.usable().and_then(|()| {
        cfg.python.counter(&[
            "-n".to_owned(),
            n.to_string(),
            "-p".to_owned(),
            "2".to_owned(),
            "--repeat".to_owned(),
            cfg.reps.to_string(),
        ])
    }) {
        Ok(v) => {
            for (field, key) in keys {
                match v[field].as_array() {
                    Some(runs) => {
                        for t in runs.iter().filter_map(|t| t.as_f64()) {
                            r.add(key, t * 1e3);
                        }
                    }
                    None => r.not_run(key, &format!("unexpected output {v}")),
                }
            }
        }
        Err(e) => {
            for (_, key) in keys {
                r.not_run(key, &e);
            }
        }
    }
    r.compare(
        'c',
        "Python: atomic field vs multiprocessing.Value",
        "c.py_atomic",
        "c.value",
        Ratio::Speedup,
        Some(Goal::AtLeast(4.0)),
    );
    r.compare(
        'c',
        "Python: mutex field vs multiprocessing.Value",
        "c.py_mutex",
        "c.value",
        Ratio::Speedup,
        Some(Goal::AtLeast(1.5)),
    );
    r.compare(
        'c',
        "Rust: mutex field vs Python multiprocessing.Value",
        "c.rust_mutex",
        "c.value",
        Ratio::Speedup,
        None,
    );
    r.compare(
        'c',
        "Rust: atomic field vs Python multiprocessing.Value",
        "c.rust_atomic",
        "c.value",
        Ratio::Speedup,
        None,
    );
    r.note('c', "Ratio = multiprocessing.Value time / shmgen time (how many times faster). Python processes are forked and released together by a barrier; the time is from the first worker's start to the last one's end. Rust rows: group (a)/(b)'s contended runs (same counter, same count).");
}
