//! Derived structs compile, their type tables are exactly what rustc says, they nest like any
//! field type, and a derived struct and the TOML-generated equivalent have the same table and
//! the same fingerprint.

use core::mem::{align_of, offset_of, size_of};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64};

use shmgen_runtime::abi;
use shmgen_runtime::{
    fingerprint, Align128, Bytes, CacheAligned, Elem, Element, Event, Field, Kind, Mutex, Prim,
    RMutex, Ring, Semaphore, SeqLock, SharedLayout, Str, Ty,
};

/// What one worker reports.
#[derive(SharedLayout, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
pub struct WorkerStats {
    /// Tasks finished.
    pub completed: i32,
    pub errors: i32,
    pub throughput: i32,
}

/// Every kind of field there is.
#[derive(SharedLayout)]
#[repr(C)]
pub struct Everything {
    pub flag: bool,
    pub stats: WorkerStats,
    pub per_worker: [WorkerStats; 4],
    pub grid: [[f64; 3]; 4],
    pub name: Str<32>,
    pub blob: Bytes<5>,
    pub workers: Mutex<[WorkerStats; 4]>,
    pub total: Mutex<u64>,
    pub log: RMutex<Str<64>>,
    pub status: SeqLock<Str<32>>,
    pub latest: SeqLock<WorkerStats>,
    pub tasks_done: AtomicU64,
    pub running: AtomicBool,
    pub slots: Semaphore<2>,
    pub no_initial: Semaphore,
    pub shutdown: Event,
    pub jobs: Ring<u64, 8>,
    pub results: Ring<WorkerStats, 4>,
    pub hot: CacheAligned<AtomicI32>,
    pub page: Align128<u8>,
    pub locked_hot: CacheAligned<Mutex<u32>>,
}

/// Checks a derived struct's table against rustc field by field: names in order, offsets,
/// sizes, alignments and kinds, then the struct's own size and alignment.
macro_rules! assert_table_is_rustcs {
    ($s:ty { $($f:ident: $t:ty),* $(,)? }) => {{
        let l = <$s as SharedLayout>::LAYOUT;
        let names: Vec<&str> = l.fields.iter().map(|f| f.name).collect();
        assert_eq!(names, [$(stringify!($f)),*], "field names, in declaration order");
        $(
            let f = l.field(stringify!($f)).expect("field in table");
            assert_eq!(f.offset, offset_of!($s, $f), "offset of {}", stringify!($f));
            assert_eq!(f.size, size_of::<$t>(), "size of {}", stringify!($f));
            assert_eq!(f.align, align_of::<$t>(), "align of {}", stringify!($f));
            assert_eq!(f.kind, <$t as Field>::KIND, "kind of {}", stringify!($f));
        )*
        assert_eq!(l.size, size_of::<$s>());
        assert_eq!(l.align, align_of::<$s>());
        assert_eq!(l.name, stringify!($s));
    }};
}

#[test]
fn table_is_what_rustc_says() {
    assert_table_is_rustcs!(WorkerStats {
        completed: i32,
        errors: i32,
        throughput: i32,
    });
    assert_table_is_rustcs!(Everything {
        flag: bool,
        stats: WorkerStats,
        per_worker: [WorkerStats; 4],
        grid: [[f64; 3]; 4],
        name: Str<32>,
        blob: Bytes<5>,
        workers: Mutex<[WorkerStats; 4]>,
        total: Mutex<u64>,
        log: RMutex<Str<64>>,
        status: SeqLock<Str<32>>,
        latest: SeqLock<WorkerStats>,
        tasks_done: AtomicU64,
        running: AtomicBool,
        slots: Semaphore<2>,
        no_initial: Semaphore,
        shutdown: Event,
        jobs: Ring<u64, 8>,
        results: Ring<WorkerStats, 4>,
        hot: CacheAligned<AtomicI32>,
        page: Align128<u8>,
        locked_hot: CacheAligned<Mutex<u32>>,
    });
}

#[test]
fn kinds_are_the_schema_kinds() {
    let l = Everything::LAYOUT;
    let kind = |name: &str| l.field(name).expect("field").kind;
    let stats = Ty::structure(&WorkerStats::LAYOUT);
    assert_eq!(kind("flag"), Kind::Plain(Ty::prim(Prim::Bool)));
    assert_eq!(kind("stats"), Kind::Plain(stats));
    assert_eq!(kind("per_worker"), Kind::Plain(stats.array(4)));
    assert_eq!(
        kind("grid"),
        Kind::Plain(Ty::prim(Prim::F64).array(3).array(4))
    );
    assert_eq!(kind("name"), Kind::Plain(Ty::str(32)));
    assert_eq!(kind("blob"), Kind::Plain(Ty::bytes(5)));
    assert_eq!(kind("workers"), Kind::Mutex(stats.array(4)));
    assert_eq!(kind("total"), Kind::Mutex(Ty::prim(Prim::U64)));
    assert_eq!(kind("log"), Kind::RMutex(Ty::str(64)));
    assert_eq!(kind("status"), Kind::SeqLock(Ty::str(32)));
    assert_eq!(kind("latest"), Kind::SeqLock(stats));
    assert_eq!(kind("tasks_done"), Kind::Atomic(Prim::U64));
    assert_eq!(kind("running"), Kind::Atomic(Prim::Bool));
    assert_eq!(kind("slots"), Kind::Semaphore { initial: 2 });
    assert_eq!(kind("no_initial"), Kind::Semaphore { initial: 0 });
    assert_eq!(kind("shutdown"), Kind::Event);
    assert_eq!(
        kind("jobs"),
        Kind::Ring {
            item: Ty::prim(Prim::U64),
            capacity: 8
        }
    );
    assert_eq!(
        kind("results"),
        Kind::Ring {
            item: stats,
            capacity: 4
        }
    );
    // `align = N` wrappers keep the inner kind; the slot is in size and align.
    assert_eq!(kind("hot"), Kind::Atomic(Prim::I32));
    assert_eq!(kind("page"), Kind::Plain(Ty::prim(Prim::U8)));
    assert_eq!(kind("locked_hot"), Kind::Mutex(Ty::prim(Prim::U32)));
    // A nested struct's table is the nested struct's own.
    let Kind::Plain(Ty {
        elem: Elem::Struct(inner),
        ..
    }) = kind("stats")
    else {
        panic!("stats is a plain struct field");
    };
    assert_eq!(*inner, WorkerStats::LAYOUT);
}

/// rustc's numbers agree with the runtime's ABI formulas, which the TOML path uses.
#[test]
fn numbers_agree_with_the_abi_formulas() {
    let l = Everything::LAYOUT;
    let field = |name: &str| l.field(name).expect("field");
    let m = abi::mutex_layout(48, 4).expect("fits");
    assert_eq!(
        (field("workers").size, field("workers").align),
        (m.size, m.align)
    );
    let s = abi::seqlock_layout(32, 1).expect("fits");
    assert_eq!(
        (field("status").size, field("status").align),
        (s.size, s.align)
    );
    let r = abi::ring_layout(8, 8, 8).expect("fits");
    assert_eq!((field("jobs").size, field("jobs").align), (r.size, r.align));
    let r = abi::ring_layout(12, 4, 4).expect("fits");
    assert_eq!(
        (field("results").size, field("results").align),
        (r.size, r.align)
    );
    assert_eq!(
        (field("hot").size, field("hot").align),
        abi::aligned_slot(4, 4, 64).expect("fits")
    );
    assert_eq!(
        (field("page").size, field("page").align),
        abi::aligned_slot(1, 1, 128).expect("fits")
    );
    assert_eq!(
        (field("slots").size, field("slots").align),
        (abi::SEMAPHORE_SIZE, abi::SEMAPHORE_ALIGN)
    );
    assert_eq!(
        (field("shutdown").size, field("shutdown").align),
        (abi::EVENT_SIZE, abi::EVENT_ALIGN)
    );
}

#[test]
fn derived_structs_are_elements() {
    assert_eq!(WorkerStats::TY, Ty::structure(&WorkerStats::LAYOUT));
    assert_eq!(WorkerStats::TY.size, 12);
    assert_eq!(WorkerStats::TY.align, 4);
    assert_eq!(Everything::TY.size, size_of::<Everything>());
    // Two levels of nesting, inside an array inside a lock.
    #[derive(SharedLayout, Clone, Copy)]
    #[repr(C)]
    struct Team {
        lead: WorkerStats,
        members: [WorkerStats; 3],
    }
    #[derive(SharedLayout)]
    #[repr(C)]
    struct Office {
        teams: Mutex<[Team; 2]>,
    }
    let Kind::Mutex(t) = Office::LAYOUT.fields[0].kind else {
        panic!("a mutex field");
    };
    assert_eq!(t.dims(), &[2]);
    assert_eq!(t.elem, Elem::Struct(&Team::LAYOUT));
    assert_eq!(
        Team::LAYOUT.fields[1].kind,
        Kind::Plain(WorkerStats::TY.array(3))
    );
}

#[test]
fn fingerprint_is_the_runtimes_const_fn() {
    const FP: u64 = Everything::FINGERPRINT;
    assert_eq!(FP, fingerprint(&Everything::LAYOUT, 1));
    assert_eq!(Everything::VERSION, 1);
    assert_ne!(Everything::FINGERPRINT, WorkerStats::FINGERPRINT);
}

mod v2 {
    use shmgen_runtime::SharedLayout;

    /// What one worker reports.
    #[derive(SharedLayout)]
    #[repr(C)]
    #[shmgen(version = 2)]
    pub struct WorkerStats {
        /// Tasks finished.
        pub completed: i32,
        pub errors: i32,
        pub throughput: i32,
    }
}

#[test]
fn version_attribute_changes_only_the_fingerprint() {
    assert_eq!(v2::WorkerStats::VERSION, 2);
    assert_eq!(v2::WorkerStats::LAYOUT, WorkerStats::LAYOUT);
    assert_ne!(v2::WorkerStats::FINGERPRINT, WorkerStats::FINGERPRINT);
    assert_eq!(
        v2::WorkerStats::FINGERPRINT,
        fingerprint(&WorkerStats::LAYOUT, 2)
    );
}

#[test]
fn docs_become_table_docs() {
    assert_eq!(WorkerStats::LAYOUT.doc, "What one worker reports.");
    assert_eq!(WorkerStats::LAYOUT.fields[0].doc, "Tasks finished.");
    assert_eq!(WorkerStats::LAYOUT.fields[1].doc, "");

    /// First line,
    /// second line.
    ///
    ///   Indented after a blank line.
    #[derive(SharedLayout)]
    #[repr(C)]
    struct Documented {
        /** A block doc. */
        a: u8,
    }
    assert_eq!(
        Documented::LAYOUT.doc,
        "First line,\nsecond line.\n\n  Indented after a blank line."
    );
    assert_eq!(Documented::LAYOUT.fields[0].doc, "A block doc.");
}

#[test]
fn raw_identifiers_lose_their_prefix() {
    #[derive(SharedLayout)]
    #[repr(C)]
    struct r#Message {
        r#type: u8,
        r#loop: u32,
    }
    assert_eq!(Message::LAYOUT.name, "Message");
    assert_eq!(Message::LAYOUT.fields[0].name, "type");
    assert_eq!(Message::LAYOUT.fields[1].name, "loop");
    assert_eq!(Message::LAYOUT.fields[1].offset, 4);
}

#[test]
fn repr_align_is_recorded_not_refused() {
    #[derive(SharedLayout)]
    #[repr(C, align(64))]
    struct Line {
        a: u32,
    }
    assert_eq!(Line::LAYOUT.align, 64);
    assert_eq!(Line::LAYOUT.size, 64);
    assert_eq!(Line::LAYOUT.fields[0].size, 4);
}

#[test]
fn derive_inside_a_function() {
    #[derive(SharedLayout)]
    #[repr(C)]
    struct Local {
        a: u8,
        b: u64,
    }
    assert_eq!(Local::LAYOUT.fields[1].offset, 8);
    assert_eq!(Local::LAYOUT.size, 16);
}

mod nested_module {
    pub mod deeper {
        #[derive(shmgen_runtime::SharedLayout)]
        #[repr(C)]
        pub struct Deep {
            pub a: u16,
            pub inner: super::super::WorkerStats,
        }
    }
}

#[test]
fn derive_inside_a_module() {
    use nested_module::deeper::Deep;
    assert_eq!(Deep::LAYOUT.fields[1].offset, 4);
    assert_eq!(Deep::LAYOUT.fields[1].kind, Kind::Plain(WorkerStats::TY));
}

/// The runtime under another path: `#[shmgen(crate = "...")]`. (`tests/renamed-crate` checks a
/// crate where the name `shmgen_runtime` does not exist at all.)
mod rt {
    pub use shmgen_runtime::*;
}

mod renamed {
    #[derive(crate::rt::SharedLayout)]
    #[repr(C)]
    #[shmgen(crate = "crate::rt")]
    pub struct Via {
        pub a: u32,
        pub e: crate::rt::Event,
    }
}

#[test]
fn runtime_under_another_path() {
    assert_eq!(renamed::Via::LAYOUT.fields[1].kind, Kind::Event);
}

// A derive and its twin generated from TOML: the same schema, written two ways.
//
// ```toml
// version = 1
// root = "Metrics"
//
// [[struct]]
// name = "WorkerStats"
// doc = "What one worker reports."
// fields = [
//   { name = "completed",  type = "i32", doc = "Tasks finished." },
//   { name = "errors",     type = "i32" },
//   { name = "throughput", type = "i32" },
// ]
//
// [[struct]]
// name = "Metrics"
// fields = [
//   { name = "workers",    type = "[WorkerStats; 4]", lock = "mutex" },
//   { name = "tasks_done", type = "u64", atomic = true, align = 64 },
//   { name = "status",     type = "str[32]", lock = "seqlock" },
//   { name = "shutdown",   type = "event" },
//   { name = "slots",      type = "semaphore", initial = 2 },
//   { name = "jobs",       type = "ring", item = "u64", capacity = 8 },
// ]
// ```
#[derive(SharedLayout)]
#[repr(C)]
pub struct Metrics {
    pub workers: Mutex<[WorkerStats; 4]>,
    pub tasks_done: CacheAligned<AtomicU64>,
    pub status: SeqLock<Str<32>>,
    pub shutdown: Event,
    pub slots: Semaphore<2>,
    pub jobs: Ring<u64, 8>,
}

/// What the TOML emitter (`shmgen_codegen`'s Rust back end) writes for the schema above,
/// written out by hand: literal numbers from the layout module, `<T as Field>::KIND` kinds.
#[allow(missing_docs)]
mod toml_generated {
    use shmgen_runtime as rt;

    /// What one worker reports.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub struct WorkerStats {
        /// Tasks finished.
        pub completed: i32,
        pub errors: i32,
        pub throughput: i32,
    }

    #[repr(C)]
    pub struct Metrics {
        pub workers: rt::Mutex<[WorkerStats; 4]>,
        pub tasks_done: rt::CacheAligned<::core::sync::atomic::AtomicU64>,
        pub status: rt::SeqLock<rt::Str<32>>,
        pub shutdown: rt::Event,
        pub slots: rt::Semaphore<2>,
        pub jobs: rt::Ring<u64, 8>,
    }

    // SAFETY: the literal numbers are the schema compiler's layout, confirmed against rustc by
    // the `const` assertions below (as generated code does).
    unsafe impl rt::SharedLayout for WorkerStats {
        const LAYOUT: rt::StructLayout<'static> = rt::StructLayout {
            name: "WorkerStats",
            doc: "What one worker reports.",
            size: 12,
            align: 4,
            fields: &[
                rt::FieldLayout {
                    name: "completed",
                    doc: "Tasks finished.",
                    offset: 0,
                    size: 4,
                    align: 4,
                    kind: <i32 as rt::Field>::KIND,
                },
                rt::FieldLayout {
                    name: "errors",
                    doc: "",
                    offset: 4,
                    size: 4,
                    align: 4,
                    kind: <i32 as rt::Field>::KIND,
                },
                rt::FieldLayout {
                    name: "throughput",
                    doc: "",
                    offset: 8,
                    size: 4,
                    align: 4,
                    kind: <i32 as rt::Field>::KIND,
                },
            ],
        };
        const VERSION: u32 = 1;
    }

    // SAFETY: `TY` is the struct's own layout (checked below).
    unsafe impl rt::Element for WorkerStats {
        const TY: rt::Ty<'static> = rt::Ty::structure(&<Self as rt::SharedLayout>::LAYOUT);
    }

    // SAFETY: as for `WorkerStats`.
    unsafe impl rt::SharedLayout for Metrics {
        const LAYOUT: rt::StructLayout<'static> = rt::StructLayout {
            name: "Metrics",
            doc: "",
            size: 704,
            align: 64,
            fields: &[
                rt::FieldLayout {
                    name: "workers",
                    doc: "",
                    offset: 0,
                    size: 96,
                    align: 8,
                    kind: <rt::Mutex<[WorkerStats; 4]> as rt::Field>::KIND,
                },
                rt::FieldLayout {
                    name: "tasks_done",
                    doc: "",
                    offset: 128,
                    size: 64,
                    align: 64,
                    kind: <rt::CacheAligned<::core::sync::atomic::AtomicU64> as rt::Field>::KIND,
                },
                rt::FieldLayout {
                    name: "status",
                    doc: "",
                    offset: 192,
                    size: 120,
                    align: 8,
                    kind: <rt::SeqLock<rt::Str<32>> as rt::Field>::KIND,
                },
                rt::FieldLayout {
                    name: "shutdown",
                    doc: "",
                    offset: 312,
                    size: 8,
                    align: 4,
                    kind: <rt::Event as rt::Field>::KIND,
                },
                rt::FieldLayout {
                    name: "slots",
                    doc: "",
                    offset: 320,
                    size: 8,
                    align: 4,
                    kind: <rt::Semaphore<2> as rt::Field>::KIND,
                },
                rt::FieldLayout {
                    name: "jobs",
                    doc: "",
                    offset: 384,
                    size: 320,
                    align: 64,
                    kind: <rt::Ring<u64, 8> as rt::Field>::KIND,
                },
            ],
        };
        const VERSION: u32 = 1;
    }

    const _: () = {
        assert!(::core::mem::size_of::<WorkerStats>() == 12);
        assert!(::core::mem::size_of::<Metrics>() == 704);
        assert!(::core::mem::align_of::<Metrics>() == 64);
        assert!(::core::mem::offset_of!(Metrics, tasks_done) == 128);
        assert!(::core::mem::offset_of!(Metrics, status) == 192);
        assert!(::core::mem::offset_of!(Metrics, shutdown) == 312);
        assert!(::core::mem::offset_of!(Metrics, slots) == 320);
        assert!(::core::mem::offset_of!(Metrics, jobs) == 384);
    };
}

#[test]
fn derived_and_toml_generated_agree() {
    assert_eq!(WorkerStats::LAYOUT, toml_generated::WorkerStats::LAYOUT);
    assert_eq!(
        WorkerStats::FINGERPRINT,
        <toml_generated::WorkerStats as SharedLayout>::FINGERPRINT
    );
    assert_eq!(Metrics::LAYOUT, toml_generated::Metrics::LAYOUT);
    assert_eq!(
        Metrics::FINGERPRINT,
        <toml_generated::Metrics as SharedLayout>::FINGERPRINT
    );
    assert_eq!(WorkerStats::TY, toml_generated::WorkerStats::TY);
}

/// A segment created through the derived type opens through the TOML-generated one, and the
/// values written through one are read through the other.
#[test]
fn segment_created_by_derive_opens_as_toml_generated() {
    use shmgen_runtime::Segment;
    use std::sync::atomic::Ordering;

    let name = format!("shmgen-derive-twin-{}", std::process::id());
    let _ = shmgen_runtime::segment::remove(&name);
    let derived = Segment::<Metrics>::create(&name).expect("create through the derive");
    derived.tasks_done.store(41, Ordering::Relaxed);
    match derived.workers.lock() {
        Ok(mut w) => w[2].completed = 7,
        Err(_) => panic!("fresh mutex reported a dead owner"),
    }
    let twin = Segment::<toml_generated::Metrics>::open(&name).expect("open through TOML");
    twin.tasks_done.fetch_add(1, Ordering::Relaxed);
    assert_eq!(derived.tasks_done.load(Ordering::Relaxed), 42);
    match twin.workers.lock() {
        Ok(w) => assert_eq!(w[2].completed, 7),
        Err(_) => panic!("fresh mutex reported a dead owner"),
    }
    derived.unlink().expect("unlink");
}
