//! How long `shmgen build` takes on the 500-field schema (`schemas/large.toml`), against the
//! 100 ms goal of issue 2, with a plain TOML parse of the same file as the baseline measured in
//! the same run. Not a timed test: it prints, it does not assert.
//!
//! `cargo bench -p shmgen-codegen --bench build_time [-- RUNS]`

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use shmgen_codegen::{parse_str, Builder, Lang};

const GOAL: Duration = Duration::from_millis(100);

fn median(mut f: impl FnMut(), runs: usize) -> Duration {
    f(); // warm-up
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:8.3} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(31);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/large.toml");
    let text = std::fs::read_to_string(&path).expect("schemas/large.toml");
    let schema = parse_str("schemas/large.toml", &text).expect("valid schema");
    let fields: usize = schema.with_layouts(|set| set.structs.iter().map(|s| s.fields.len()).sum());
    let out = std::env::temp_dir().join(format!("shmgen-bench-{}", std::process::id()));

    let toml_only = median(
        || {
            black_box(toml::from_str::<toml::Table>(black_box(&text)).ok());
        },
        runs,
    );
    let front = median(
        || {
            black_box(parse_str("schemas/large.toml", black_box(&text)).ok());
        },
        runs,
    );
    let render = median(
        || {
            black_box(schema.render_rust());
        },
        runs,
    );
    let mut builder = Builder::new();
    builder
        .out_dir(&out)
        .langs(&[Lang::Rust])
        .emit_rerun_if_changed(false);
    let build = median(
        || {
            // Read, parse, validate, lay out, render, compare with / write the file.
            black_box(builder.compile_files(&[&path]).ok());
        },
        runs,
    );
    let _ = std::fs::remove_dir_all(&out);

    let ratio = |d: Duration| d.as_secs_f64() / toml_only.as_secs_f64();
    println!("shmgen build on schemas/large.toml ({fields} fields), median of {runs} runs:");
    println!("  baseline: toml::from_str only          {}", ms(toml_only));
    println!(
        "  parse + validate + layout              {}  ({:.1}x baseline)",
        ms(front),
        ratio(front)
    );
    println!(
        "  Rust render (tokens + prettyplease)    {}  ({:.1}x baseline)",
        ms(render),
        ratio(render)
    );
    println!(
        "  whole build (read .. write)            {}  ({:.1}x baseline)",
        ms(build),
        ratio(build)
    );
    let verdict = if build <= GOAL { "meets" } else { "MISSES" };
    println!(
        "  goal {}: {verdict} it ({:.0}% of the budget)",
        ms(GOAL).trim(),
        100.0 * build.as_secs_f64() / GOAL.as_secs_f64()
    );
}
