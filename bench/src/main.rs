//! `shmgen-bench`: every comparison of issue 8 measured in one run, printed as a table of
//! medians and ratios, and written to `BENCHMARKS.md` with the machine, the command and each
//! row's goal and verdict.
//!
//! ```text
//! cargo run --release -p shmgen-bench -- --out BENCHMARKS.md [--quick]
//!     [--iceoryx2 PATH | --no-iceoryx2] [--python PATH] [--reps N] [--only abcdefg]
//! ```
//!
//! Groups: (a) per-field mutex vs pthread mutex, (b) atomic field vs raw atomic, (c) the
//! reference counter (Rust, Python, `multiprocessing.Value`), (d) messages between 2 processes
//! (ring, pipe, Unix socket, `multiprocessing.Queue`, iceoryx2), (e) publishing a 64 MiB array,
//! (f) one-way latency, (g) `shmgen build` time. Child processes are this binary again:
//! `shmgen-bench __child ROLE ARGS...`.

mod buildtime;
mod bulk;
mod counter;
mod explain;
mod iceoryx2;
mod latency;
mod locks;
mod machine;
mod messages;
mod procs;
mod python;
mod report;
mod run;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use report::{Report, Unit};

/// The Rust code build.rs generated from `schemas/benchlayouts.toml`.
#[allow(missing_docs, dead_code, clippy::all)]
pub mod layouts {
    shmgen_runtime::include_layout!("benchlayouts");
}

/// What a run was asked for, and the helpers it found.
pub struct Cfg {
    /// `--quick`: small counts, 3 repetitions.
    pub quick: bool,
    /// Repetitions of every contender.
    pub reps: usize,
    /// The Python interpreter (or why not).
    pub python: python::Python,
    /// The iceoryx2 peer (or why not).
    pub peer: iceoryx2::Peer,
}

impl Cfg {
    /// Increments per process in the counter of groups (a), (b), (c).
    pub fn counter_n(&self) -> u64 {
        if self.quick {
            200_000
        } else {
            1_000_000
        }
    }
}

/// `1,000,000`.
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

const USAGE: &str = "usage: shmgen-bench [--out FILE] [--quick] [--iceoryx2 PATH | --no-iceoryx2] \
[--python PATH] [--reps N] [--only GROUPS]";

struct Args {
    out: Option<PathBuf>,
    quick: bool,
    iceoryx2: Option<PathBuf>,
    no_iceoryx2: bool,
    python: Option<PathBuf>,
    reps: Option<usize>,
    only: String,
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut a = Args {
        out: None,
        quick: false,
        iceoryx2: None,
        no_iceoryx2: false,
        python: None,
        reps: None,
        only: "abcdefg".to_owned(),
    };
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--out" => a.out = Some(PathBuf::from(value("--out")?)),
            "--quick" => a.quick = true,
            "--iceoryx2" => a.iceoryx2 = Some(PathBuf::from(value("--iceoryx2")?)),
            "--no-iceoryx2" => a.no_iceoryx2 = true,
            "--python" => a.python = Some(PathBuf::from(value("--python")?)),
            "--reps" => {
                let v = value("--reps")?;
                a.reps = Some(
                    v.parse()
                        .ok()
                        .filter(|&n: &usize| n >= 1)
                        .ok_or("--reps: a number >= 1")?,
                );
            }
            "--only" => a.only = value("--only")?,
            "--bench" => {} // `cargo bench` passes it
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.iceoryx2.is_some() && a.no_iceoryx2 {
        return Err("--iceoryx2 and --no-iceoryx2 exclude each other".to_owned());
    }
    Ok(a)
}

fn child_main(argv: &[String]) {
    let (role, args) = argv.split_first().expect("__child ROLE");
    match role.as_str() {
        "contend" => locks::child(args),
        "produce" => messages::child(args),
        "bulk-producer" => bulk::child(args),
        "echo" => latency::child(args),
        other => panic!("unknown child role {other}"),
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("__child") {
        child_main(&argv[1..]);
        return;
    }
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("shmgen-bench: {e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned();
    let tmp = std::env::temp_dir().join(format!("shmgen-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let started = Instant::now();
    let date = machine::now_utc();
    let load_start = machine::load();
    let cfg = Cfg {
        quick: args.quick,
        reps: args.reps.unwrap_or(if args.quick { 3 } else { 7 }),
        python: python::Python::detect(args.python.clone(), &root, &tmp.join("py")),
        peer: iceoryx2::Peer::detect(args.iceoryx2.clone(), args.no_iceoryx2, &root),
    };
    let command = format!(
        "cargo run --release -p shmgen-bench --{}",
        argv.iter().fold(String::new(), |mut s, a| {
            let _ = write!(s, " {a}");
            s
        })
    );
    println!("shmgen-bench: {command}");
    println!(
        "  {} repetitions{}; Python: {}; iceoryx2 peer: {}",
        cfg.reps,
        if cfg.quick { " (quick)" } else { "" },
        cfg.python.describe(),
        cfg.peer.describe()
    );
    let mut r = Report::default();
    let groups: &[(char, &str)] = &[
        ('a', "locks"),
        ('c', "counter"),
        ('d', "messages"),
        ('e', "bulk"),
        ('f', "latency"),
        ('g', "build"),
    ];
    for &(g, name) in groups {
        let wanted = args.only.contains(g) || (g == 'a' && args.only.contains('b'));
        if !wanted {
            continue;
        }
        let t = Instant::now();
        let load = machine::load();
        println!("  group {name}: load average {load} ...");
        r.loads.push((g, load));
        match g {
            'a' => locks::run(&cfg, &mut r),
            'c' => {
                if !args.only.contains('a') && !args.only.contains('b') {
                    r.declare(
                        "c.rust_mutex",
                        'c',
                        "Rust, shmgen mutex field (group a not run)",
                        Unit::Ms,
                    );
                    r.declare(
                        "c.rust_atomic",
                        'c',
                        "Rust, shmgen atomic field (group b not run)",
                        Unit::Ms,
                    );
                    r.not_run("c.rust_mutex", "--only without a/b");
                    r.not_run("c.rust_atomic", "--only without a/b");
                }
                counter::run(&cfg, &mut r)
            }
            'd' => messages::run(&cfg, &mut r),
            'e' => bulk::run(&cfg, &mut r),
            'f' => latency::run(&cfg, &mut r),
            'g' => buildtime::run(&cfg, &mut r, &tmp),
            _ => unreachable!(),
        }
        println!("    done in {:.1} s", t.elapsed().as_secs_f64());
    }
    let load_end = machine::load();
    let took = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&tmp);

    println!();
    print!("{}", report::render_text(&r));
    println!(
        "(shmgen, baseline: medians; ratio: median of the per-repetition ratios where both ran in every repetition)"
    );
    println!();
    println!("Every measurement (median over {} repetitions):", cfg.reps);
    print!("{}", report::render_measures_text(&r));
    println!("load average: {load_start} at the start, {load_end} at the end; {took:.0} s in all");

    if let Some(out) = &args.out {
        let md = markdown(&cfg, &r, &command, &date, &load_start, &load_end, took);
        if let Err(e) = std::fs::write(out, md) {
            eprintln!("shmgen-bench: cannot write {}: {e}", out.display());
            std::process::exit(1);
        }
        println!("wrote {}", out.display());
    }
}

fn markdown(
    cfg: &Cfg,
    r: &Report,
    command: &str,
    date: &str,
    load_start: &str,
    load_end: &str,
    took: f64,
) -> String {
    let mut s = String::new();
    let (listed, usable) = machine::cores();
    let _ = writeln!(s, "# shmgen benchmarks\n");
    let _ = writeln!(
        s,
        "Generated by `{command}` on {date}, in {took:.0} s{}. Regenerate it with that command; do not edit it by hand \
         (the prose lives in [docs/BENCHMARKS.md](docs/BENCHMARKS.md)).\n",
        if cfg.quick { " (quick mode: small counts, a smoke test, not for quoting)" } else { "" }
    );
    let _ = writeln!(s, "## Machine\n");
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| CPU | {} |", machine::cpu_model());
    let _ = writeln!(
        s,
        "| cores | {listed} listed in /proc/cpuinfo, {usable} usable by this process |"
    );
    let _ = writeln!(s, "| kernel | {} |", machine::kernel());
    let _ = writeln!(
        s,
        "| load average (1, 5, 15 min) | {load_start} at the start, {load_end} at the end |"
    );
    let loads: Vec<String> = r
        .loads
        .iter()
        .map(|(g, l)| format!("({g}) {}", l.split_whitespace().next().unwrap_or("?")))
        .collect();
    let _ = writeln!(
        s,
        "| 1-min load when each group started | {} |",
        loads.join(", ")
    );
    let _ = writeln!(
        s,
        "| rustc | {} |",
        machine::version_of("rustc").unwrap_or_else(|| "?".to_owned())
    );
    let _ = writeln!(s, "| Python | {} |", cfg.python.describe());
    let _ = writeln!(s, "| iceoryx2 peer | {} |", cfg.peer.describe());
    let _ = writeln!(
        s,
        "| repetitions | {} of every contender, interleaved; the tables show medians |",
        cfg.reps
    );
    s.push('\n');
    if machine::load1() > usable as f64 * 0.5 {
        let _ = writeln!(
            s,
            "The machine was busy (load average above half its cores): absolute figures are low and noisy; \
             the ratios, measured within one run with interleaved repetitions, are what to read.\n"
        );
    }
    let _ = writeln!(s, "## Results\n");
    let _ = writeln!(
        s,
        "Each row compares shmgen with a baseline measured in the same run; the shmgen and baseline columns are medians. \
         \"ratio\" is formed as the group's note says, as the median of the per-repetition ratios when both sides ran \
         once in every repetition (each pair ran back to back), else from the two medians. \"goal\" is issue 8's \
         target for it, and the verdict says whether this run met it (or by how much it missed).\n"
    );
    s.push_str(&report::render_markdown(r));
    s.push('\n');
    let rows = r.rows();
    let missed: Vec<&report::Row> = rows
        .iter()
        .filter(|x| x.verdict.starts_with("missed"))
        .collect();
    let _ = writeln!(s, "## Goals missed in this run\n");
    if missed.is_empty() {
        let _ = writeln!(s, "None: every row with a goal met it.\n");
    }
    for m in missed {
        let _ = writeln!(
            s,
            "- **({}) {}**: {} ({} vs {}, goal {}). {}",
            m.cmp.group,
            m.cmp.what,
            m.verdict,
            m.ours,
            m.base,
            m.goal,
            explain::why(&m.cmp.ours, &m.cmp.base)
                .unwrap_or("No analysis recorded for this row yet.")
        );
    }
    let failed: Vec<String> = r
        .measures_in_order()
        .filter_map(|(_, m)| {
            m.failed
                .as_ref()
                .map(|(n, why)| format!("({}) {}: {n} failed ({why})", m.group, m.label))
        })
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(
            s,
            "\nRepetitions that failed (the medians use the others): {}.",
            failed.join("; ")
        );
    }
    let not_run: Vec<&report::Row> = rows
        .iter()
        .filter(|x| x.verdict.starts_with("not run"))
        .collect();
    if !not_run.is_empty() {
        let _ = writeln!(
            s,
            "\nRows that did not run: {}.",
            not_run
                .iter()
                .map(|x| format!("({}) {}", x.cmp.group, x.cmp.what))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    s.push('\n');
    let _ = writeln!(s, "## How each group measures\n");
    for (g, note) in &r.notes {
        let _ = writeln!(s, "- **{}**: {note}", report::group_title(*g));
    }
    s.push('\n');
    let _ = writeln!(s, "## Reproducing\n");
    let _ = writeln!(s, "```sh");
    let _ = writeln!(s, "python3 -m venv target/venv && target/venv/bin/pip install numpy   # Python rows (optional)");
    let _ = writeln!(s, "{}   # iceoryx2 rows (optional)", iceoryx2::BUILD);
    let _ = writeln!(
        s,
        "cargo run --release -p shmgen-bench -- --out BENCHMARKS.md"
    );
    let _ = writeln!(s, "cargo run --release -p shmgen-bench -- --quick --no-iceoryx2 --out target/BENCHMARKS.quick.md   # smoke test");
    let _ = writeln!(s, "```\n");
    let _ = writeln!(
        s,
        "The iceoryx2 peer is a crate of its own (`bench/iceoryx2-peer`, excluded from the workspace), so the default \
         build never compiles iceoryx2. Without it (or with `--no-iceoryx2`) its rows say \"not run\". \
         The Python interpreter is `target/venv/bin/python` when present, else `python3` (`--python PATH` to choose); \
         without numpy, the numpy rows say why they did not run."
    );
    s
}
