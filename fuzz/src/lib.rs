//! The checks behind shmgen's fuzz targets, as plain functions so that a normal `#[test]`
//! (`tests/corpus.rs`) can run them over the committed corpus without libFuzzer.
//!
//! - [`check_schema`]: bytes as a TOML schema. Parsing, validation, layout, the layout table
//!   and every emitter (Rust, Python, Python stub, C) must not panic; a schema that compiles
//!   must give Rust that `syn` parses back; a schema that does not must give at least one
//!   error with a message.
//! - [`check_segment`]: bytes as a `/dev/shm` segment file. `inspect` and `open` must return
//!   (accept or refuse) without panicking or waiting, and an accepted segment must be readable.

use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use shmgen_codegen::emit::{self, rust, Lang, Options};
use shmgen_runtime::{Event, Mutex, Segment, SeqLock, Str};

/// Compiles `data` as a schema and runs every back end on the result.
pub fn check_schema(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match shmgen_codegen::parse_str("fuzz.toml", &text) {
        Err(errors) => {
            assert!(!errors.is_empty(), "a refused schema must say why");
            let msg = errors.to_string();
            assert!(!msg.is_empty(), "an error without a message");
        }
        Ok(schema) => {
            let _ = schema.fingerprint();
            let _ = schema.layout_table();
            schema.with_layouts(|set| {
                let rs = rust::render(set);
                if let Err(e) = syn::parse_file(&rs) {
                    panic!("generated Rust does not parse: {e}\n--- schema ---\n{text}\n--- rust ---\n{rs}");
                }
                assert_clean("Rust", &rs);
                // Python (module and stub) and C through the same entry point the CLI uses.
                for lang in [Lang::Python, Lang::C] {
                    let files = emit::render(set, lang, &Options::default())
                        .unwrap_or_else(|e| panic!("{lang} emitter refused a valid schema: {e}"));
                    for f in &files {
                        assert!(!f.contents.is_empty());
                        assert_clean(&f.file_name, &f.contents);
                    }
                }
            });
        }
    }
}

/// Generated code never contains a raw CR (Python and C compilers may end a comment line there,
/// turning the rest of a schema's doc text into code; rustc refuses it in doc comments) or NUL
/// (not allowed in Python source): user text must reach it escaped or replaced.
fn assert_clean(what: &str, code: &str) {
    if let Some(i) = code.find(['\r', '\0']) {
        let line = code[..i].lines().count();
        panic!("{what}: raw control character on line {line} of the generated code");
    }
}

/// The root struct of the segments [`check_segment`] opens: a 4096-byte segment.
#[derive(shmgen_runtime::SharedLayout)]
#[repr(C)]
pub struct FuzzRoot {
    /// A lock (never locked here: a hostile writer can break a pthread mutex, see SECURITY.md).
    pub lock: Mutex<[u32; 4]>,
    /// An atomic.
    pub hits: AtomicU64,
    /// Text that may be invalid UTF-8.
    pub label: Str<24>,
    /// A seqlock whose sequence may be anything.
    pub status: SeqLock<Str<16>>,
    /// A flag.
    pub flag: Event,
}

fn segment_name() -> String {
    format!("shmgen-fuzz-{}", std::process::id())
}

/// Writes `data` as the file `/dev/shm/shmgen-fuzz-PID` (mode 0600) and opens it.
pub fn check_segment(data: &[u8]) {
    let name = segment_name();
    let path = format!("/dev/shm/{name}");
    let _ = std::fs::remove_file(&path);
    {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .expect("create the fuzz segment file");
        std::os::unix::fs::FileExt::write_all_at(&f, data, 0).expect("write it");
    }
    let _ = shmgen_runtime::segment::inspect(&name);
    let opened = Segment::<FuzzRoot>::options()
        .open_timeout(Duration::ZERO)
        .open(&name);
    match opened {
        Ok(seg) => {
            seg.check_size().expect("the file did not change");
            let h = seg.header();
            assert!(h.is_ready());
            let _ = seg.hits.load(Ordering::Relaxed);
            let _ = seg.label.as_str().len();
            let _ = seg.status.read().as_str().len();
            let _ = seg.status.sequence();
            let _ = seg.flag.is_set();
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
        }
    }
    let _ = std::fs::remove_file(&path);
}

/// The bytes of a valid, freshly created [`FuzzRoot`] segment (a seed for the corpus).
pub fn valid_segment_bytes() -> Vec<u8> {
    let name = format!("{}-seed", segment_name());
    let _ = shmgen_runtime::segment::remove(&name);
    let seg = Segment::<FuzzRoot>::options()
        .init(|r| {
            r.label.set("seed").expect("fits");
            r.status.get_mut().set("ok").expect("fits");
        })
        .create(&name)
        .expect("create a seed segment");
    let bytes = std::fs::read(format!("/dev/shm/{name}")).expect("read it");
    let _ = seg.unlink();
    bytes
}
