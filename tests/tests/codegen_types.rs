//! The generated types exist, implement the runtime's traits, and agree with the schema
//! compiler: rustc already checked every number in `const` blocks; these tests check what a
//! user relies on at run time (constants, type tables, derives, fingerprints).

use core::mem::{align_of, offset_of, size_of};

use shmgen_runtime::{Elem, Kind, Prim, SharedLayout};
use shmgen_tests::{align, metrics, metrics_via_reexport, padding, ring, seqlock};

fn compiled(name: &str) -> shmgen_codegen::Schema {
    let path = format!("{}/../schemas/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    shmgen_codegen::parse_file(path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn metrics_constants_match_the_trait_and_the_compiler() {
    assert_eq!(metrics::SCHEMA, "metrics");
    assert_eq!(metrics::VERSION, 1);
    assert_eq!(metrics::ROOT, "Metrics");
    assert_eq!(
        metrics::FINGERPRINT,
        <metrics::Metrics as SharedLayout>::FINGERPRINT
    );
    assert_eq!(metrics::FINGERPRINT, compiled("metrics").fingerprint());
    assert_eq!(
        metrics::FINGERPRINT,
        shmgen_runtime::fingerprint(&metrics::Metrics::LAYOUT, metrics::VERSION)
    );
}

#[test]
fn the_type_table_describes_the_struct() {
    let l = <metrics::Metrics as SharedLayout>::LAYOUT;
    assert_eq!(l.name, "Metrics");
    assert_eq!(l.size, size_of::<metrics::Metrics>());
    assert_eq!(l.align, align_of::<metrics::Metrics>());
    let names: Vec<&str> = l.fields.iter().map(|f| f.name).collect();
    assert_eq!(
        names,
        [
            "workers",
            "tasks_done",
            "status",
            "shutdown",
            "slots",
            "jobs"
        ]
    );
    assert_eq!(
        l.field("jobs").map(|f| f.offset),
        Some(offset_of!(metrics::Metrics, jobs))
    );
    match l.fields[0].kind {
        Kind::Mutex(t) => {
            assert_eq!(t.dims(), &[4]);
            let Elem::Struct(s) = t.elem else {
                panic!("not a struct")
            };
            assert_eq!(s.name, "WorkerStats");
            assert_eq!(s.doc, "What one worker reports.");
        }
        other => panic!("workers is {other:?}"),
    }
    assert_eq!(l.fields[1].kind, Kind::Atomic(Prim::U64));
    assert_eq!(l.fields[4].kind, Kind::Semaphore { initial: 2 });
    assert!(matches!(
        l.fields[5].kind,
        Kind::Ring { capacity: 1024, .. }
    ));
}

#[test]
fn plain_structs_are_copy_and_comparable() {
    let a = metrics::WorkerStats {
        completed: 3,
        errors: 0,
        throughput: 7,
    };
    let b = a;
    assert_eq!(a, b);
    assert!(format!("{b:?}").contains("throughput: 7"));
    let t = seqlock::Tick {
        bid: 1.0,
        ask: 2.0,
        size: 3,
        live: true,
    };
    assert_eq!(t, t);
    let j = ring::Job {
        id: 1,
        kind: 2,
        payload: shmgen_runtime::Bytes([0; 23]),
    };
    assert_eq!(j.clone(), j);
    // Default where std allows it (arrays of at most 32 elements per dimension).
    let d = ring::Job::default();
    assert_eq!((d.id, d.kind), (0, 0));
    assert_eq!(metrics::WorkerStats::default().completed, 0);
}

#[test]
fn aligned_fields_use_the_wrappers() {
    assert_eq!(offset_of!(align::Hot, b), 64);
    assert_eq!(offset_of!(align::Hot, page), 4096);
    assert_eq!(align_of::<align::Hot>(), 4096);
    assert_eq!(offset_of!(padding::Tricky, line), 320);
    assert_eq!(size_of::<padding::Small>(), 24);
}

#[test]
fn a_reexported_runtime_path_gives_the_same_layout() {
    assert_eq!(metrics_via_reexport::FINGERPRINT, metrics::FINGERPRINT);
    assert_eq!(
        <metrics_via_reexport::Metrics as SharedLayout>::FINGERPRINT,
        <metrics::Metrics as SharedLayout>::FINGERPRINT
    );
}

#[test]
fn every_schema_fingerprint_matches_the_compiler() {
    use shmgen_tests::*;
    let cases: &[(&str, u64)] = &[
        ("align", align::FINGERPRINT),
        ("atomic", atomic::FINGERPRINT),
        ("ctypes", ctypes::FINGERPRINT),
        ("event", event::FINGERPRINT),
        ("large", large::FINGERPRINT),
        ("metrics", metrics::FINGERPRINT),
        ("mutex", mutex::FINGERPRINT),
        ("padding", padding::FINGERPRINT),
        ("ring", ring::FINGERPRINT),
        ("rmutex", rmutex::FINGERPRINT),
        ("semaphore", semaphore::FINGERPRINT),
        ("seqlock", seqlock::FINGERPRINT),
        ("text", text::FINGERPRINT),
    ];
    for &(name, fp) in cases {
        assert_eq!(compiled(name).fingerprint(), fp, "{name}");
    }
    assert_eq!(<large::Large as SharedLayout>::VERSION, 7);
}
