//! The Python and C emitters against real compilers: for every schema in `schemas/` (and the
//! Python runtime's test schemas) plus hand-built tricky layouts, the generated C header must
//! compile with `gcc -std=c11 -Wall -Wextra -Werror -pedantic` and its `offsetof`/`sizeof`
//! must equal the layout table; the generated Python module must import (its own
//! `verify_layout` checks run) and ctypes' offsets and sizes must equal the table; a segment
//! of every root must be creatable and re-openable from Python. Rendered files are snapshot
//! with insta, and the Python modules the runtime's pytest suite imports
//! (`python/tests/generated/`) must be the emitter's current output (`SHMGEN_BLESS=1`
//! rewrites them).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use shmgen_codegen::emit::{c, python};
use shmgen_codegen::layout::natural;
use shmgen_codegen::LayoutSet;
use shmgen_runtime::abi;
use shmgen_runtime::{FieldLayout, Kind, Prim, StructLayout, Ty};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn scratch(tag: &str) -> PathBuf {
    let d = repo()
        .join("target")
        .join("emit_python_c")
        .join(format!("{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

// -----------------------------------------------------------------------------------------
// Hand-built layouts (C rules, numbers from `shmgen_runtime::abi`)
// -----------------------------------------------------------------------------------------

fn round_up(n: usize, a: usize) -> usize {
    abi::round_up(n, a).unwrap()
}

/// Lays out a struct by C rules from `(name, kind, align = N)` fields, the way the schema
/// compiler does, with each kind's size from `shmgen_runtime::abi` (via `natural`).
fn build(
    name: &'static str,
    doc: &'static str,
    fields: Vec<(&'static str, Kind<'static>, Option<usize>)>,
) -> &'static StructLayout<'static> {
    let mut out = Vec::new();
    let mut at = 0usize;
    let mut align = 1usize;
    for (fname, kind, over) in fields {
        let (mut size, mut a) = natural(&kind).unwrap();
        if let Some(n) = over {
            (size, a) = abi::aligned_slot(size, a, n).unwrap();
        }
        let offset = round_up(at, a);
        out.push(FieldLayout {
            name: fname,
            doc: "",
            offset,
            size,
            align: a,
            kind,
        });
        at = offset + size;
        align = align.max(a);
    }
    Box::leak(Box::new(StructLayout {
        name,
        doc,
        size: round_up(at, align),
        align,
        fields: Box::leak(out.into_boxed_slice()),
    }))
}

fn p(p: Prim) -> Ty<'static> {
    Ty::prim(p)
}

/// u8 then u64, bool arrays, odd `str[N]`, nested arrays of structs, `align = 64`, every
/// scalar, every atomic width, every primitive kind.
fn tricky() -> LayoutSet<'static> {
    use Prim::*;
    let inner = build(
        "Inner",
        "u8 then u64: 7 bytes of padding.",
        vec![
            ("a", Kind::Plain(p(U8)), None),
            ("b", Kind::Plain(p(U64)), None),
        ],
    );
    let odd = build(
        "Odd",
        "Alignment 1, odd size.",
        vec![
            ("s", Kind::Plain(Ty::str(7)), None),
            ("flag", Kind::Plain(p(Bool)), None),
            ("t", Kind::Plain(Ty::bytes(3)), None),
        ],
    );
    let wide = build(
        "Wide",
        "A struct whose own alignment is 64 (an aligned field inside).",
        vec![
            ("x", Kind::Plain(p(U16)), None),
            ("y", Kind::Atomic(U32), Some(64)),
        ],
    );
    let root = build(
        "Tricky",
        "Every kind of field, in awkward places.\nSecond line with \"quotes\" and a backslash \\.",
        vec![
            ("p_u8", Kind::Plain(p(U8)), None),
            ("p_u64", Kind::Plain(p(U64)), None),
            ("flags", Kind::Plain(p(Bool).array(5)), None),
            ("name", Kind::Plain(Ty::str(7)), None),
            ("data", Kind::Plain(Ty::bytes(3)), None),
            ("p_i8", Kind::Plain(p(I8)), None),
            ("p_u16", Kind::Plain(p(U16)), None),
            ("p_i16", Kind::Plain(p(I16)), None),
            ("p_u32", Kind::Plain(p(U32)), None),
            ("p_i32", Kind::Plain(p(I32)), None),
            ("p_i64", Kind::Plain(p(I64)), None),
            ("p_f32", Kind::Plain(p(F32)), None),
            ("p_f64", Kind::Plain(p(F64)), None),
            ("p_bool", Kind::Plain(p(Bool)), None),
            (
                "grid",
                Kind::Plain(Ty::structure(inner).array(2).array(3)),
                None,
            ),
            ("odds", Kind::Plain(Ty::structure(odd).array(3)), None),
            ("labels", Kind::Plain(Ty::str(5).array(2)), None),
            ("mat", Kind::Plain(p(F64).array(3).array(4)), None),
            ("hot", Kind::Atomic(U64), Some(64)),
            ("a_i8", Kind::Atomic(I8), None),
            ("a_u16", Kind::Atomic(U16), None),
            ("a_i32", Kind::Atomic(I32), None),
            ("a_bool", Kind::Atomic(Bool), None),
            ("wide", Kind::Plain(Ty::structure(wide)), None),
            ("m", Kind::Mutex(p(U64)), None),
            ("m_arr", Kind::Mutex(p(F64).array(3).array(2)), None),
            ("rm", Kind::RMutex(Ty::str(5)), None),
            ("sq", Kind::SeqLock(Ty::structure(inner)), None),
            ("sq_text", Kind::SeqLock(Ty::str(13)), None),
            ("sem", Kind::Semaphore { initial: 3 }, None),
            ("ev", Kind::Event, None),
            (
                "ring",
                Kind::Ring {
                    item: Ty::structure(inner),
                    capacity: 4,
                },
                None,
            ),
            ("m_wide", Kind::Mutex(Ty::structure(wide)), None),
            ("tail", Kind::Plain(p(U8)), None),
        ],
    );
    LayoutSet {
        schema: "tricky",
        version: 3,
        structs: vec![inner, odd, wide, root],
        root,
        source: "tests/emit_python_c.rs (hand-built)",
    }
}

// -----------------------------------------------------------------------------------------
// Expected numbers
// -----------------------------------------------------------------------------------------

/// `S name size align` and `F struct field offset size` lines, sorted: what both the C
/// program and the Python script print.
fn expected(set: &LayoutSet<'_>) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for s in &set.structs {
        m.insert(format!("S {}", s.name), format!("{} {}", s.size, s.align));
        for f in s.fields {
            let (size, _) = natural(&f.kind).unwrap();
            m.insert(
                format!("F {}.{}", s.name, f.name),
                format!("{} {}", f.offset, size),
            );
        }
    }
    m
}

fn parse_lines(out: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for line in out.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.len() == 4 && (parts[0] == "S" || parts[0] == "F") {
            m.insert(
                format!("{} {}", parts[0], parts[1]),
                format!("{} {}", parts[2], parts[3]),
            );
        }
    }
    m
}

fn assert_same(what: &str, got: &BTreeMap<String, String>, want: &BTreeMap<String, String>) {
    let mut diffs = String::new();
    for (k, v) in want {
        match got.get(k) {
            Some(g) if g == v => {}
            Some(g) => {
                let _ = writeln!(diffs, "  {k}: {what} says {g}, the layout table {v}");
            }
            None => {
                let _ = writeln!(diffs, "  {k}: missing from {what}");
            }
        }
    }
    for k in got.keys() {
        if !want.contains_key(k) {
            let _ = writeln!(diffs, "  {k}: only in {what}");
        }
    }
    assert!(
        diffs.is_empty(),
        "{what} disagrees with the layout table:\n{diffs}"
    );
}

// -----------------------------------------------------------------------------------------
// C
// -----------------------------------------------------------------------------------------

fn gcc(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new("gcc")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("gcc must be installed to test the C emitter")
}

/// Compiles the header (twice included, with `-Wall -Wextra -Werror -pedantic`) in a program
/// that prints every struct's size and alignment and every field's offset and size, runs it,
/// and compares with the table.
fn check_c(set: &LayoutSet<'_>, header: &str) {
    let dir = scratch(&format!("c-{}", set.schema));
    let h = format!("{}.h", set.schema);
    std::fs::write(dir.join(&h), header).unwrap();
    let mut prog = String::new();
    let _ = writeln!(
        prog,
        "#include \"{h}\"\n#include \"{h}\"\n#include <stdio.h>\n"
    );
    prog.push_str("int main(void) {\n");
    for s in &set.structs {
        let n = s.name;
        let _ = writeln!(
            prog,
            "    printf(\"S {n} %zu %zu\\n\", sizeof({n}), (size_t)_Alignof({n}));"
        );
        for f in s.fields {
            let fname = f.name;
            let _ = writeln!(
                prog,
                "    printf(\"F {n}.{fname} %zu %zu\\n\", offsetof({n}, {fname}), sizeof((({n} *)0)->{fname}));"
            );
        }
    }
    prog.push_str("    return 0;\n}\n");
    std::fs::write(dir.join("main.c"), prog).unwrap();
    let out = gcc(
        &[
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-O1",
            "-o",
            "layout",
            "main.c",
        ],
        &dir,
    );
    assert!(
        out.status.success(),
        "gcc rejected {h}:\n{}\n--- header ---\n{header}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(dir.join("layout")).output().unwrap();
    assert!(run.status.success());
    let got = parse_lines(&String::from_utf8_lossy(&run.stdout));
    assert_same(&format!("C ({h})"), &got, &expected(set));
    // C++ is not promised, but the header must also pass as C17 and with clang-ish strictness.
    let out = gcc(
        &[
            "-std=c17",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-fsyntax-only",
            &h,
        ],
        &dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// -----------------------------------------------------------------------------------------
// Python
// -----------------------------------------------------------------------------------------

fn python_src() -> PathBuf {
    repo().join("python").join("src")
}

const PY_CHECK: &str = r#"
import ctypes, importlib, os, sys
import shmgen
mod = importlib.import_module(sys.argv[1])
for name in mod.__all__:
    s = getattr(mod, name)
    if not (isinstance(s, type) and issubclass(s, shmgen.Struct)):
        continue
    ca = ctypes.alignment(s)
    assert s._shmgen_align_ % ca == 0, (name, ca)
    print("S %s %d %d" % (name, ctypes.sizeof(s), s._shmgen_align_))
    for fname, ftype in s._fields_:
        if issubclass(ftype, shmgen.Pad):
            continue
        d = s.__dict__[fname]
        assert d.size == ctypes.sizeof(ftype), (name, fname)
        print("F %s.%s %d %d" % (name, fname, d.offset, d.size))
# A segment of the root: create (initialises every primitive), reopen, check, remove.
root = getattr(mod, mod.ROOT)
seg_name = "shmgen-emit-test-%s-%d" % (mod.SCHEMA, os.getpid())
seg = shmgen.create(root, seg_name)  # (root.create may be shadowed by a field)
S = shmgen.Segment  # (and segment attributes by root fields)
try:
    again = shmgen.open(root, seg_name)
    assert S.header.fget(again).fingerprint == mod.FINGERPRINT
    assert S.layout_id(again) == S.layout_id(seg)
    S.close(again)
finally:
    S.unlink(seg)
    S.close(seg)
print("OK")
"#;

/// The file name a schema's module gets in these tests: the schema name, unless that would
/// shadow a module the check needs (`schemas/ctypes.toml` is the schema `ctypes`).
fn module_name(schema: &str) -> String {
    const TAKEN: [&str; 8] = [
        "ctypes",
        "shmgen",
        "os",
        "sys",
        "importlib",
        "mmap",
        "typing",
        "check",
    ];
    if TAKEN.contains(&schema) {
        format!("{schema}_schema")
    } else {
        schema.to_owned()
    }
}

fn run_python(dir: &Path, args: &[&str]) -> std::process::Output {
    let path = format!("{}:{}", python_src().display(), dir.display());
    Command::new("python3")
        .args(args)
        .env("PYTHONPATH", path)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(dir)
        .output()
        .expect("python3 must be installed to test the Python emitter")
}

/// Imports the module (its `verify_layout` calls run), compares ctypes' numbers with the
/// table, and creates and reopens a segment of the root.
fn check_python(set: &LayoutSet<'_>, module: &str, stub: &str) {
    let dir = scratch(&format!("py-{}", set.schema));
    let m = module_name(set.schema);
    std::fs::write(dir.join(format!("{m}.py")), module).unwrap();
    std::fs::write(dir.join(format!("{m}.pyi")), stub).unwrap();
    std::fs::write(dir.join("check.py"), PY_CHECK).unwrap();
    let out = run_python(&dir, &["check.py", &m]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("OK"),
        "python3 failed on {}.py:\n{}\n{stdout}\n--- module ---\n{module}",
        set.schema,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same(
        &format!("Python ({}.py)", set.schema),
        &parse_lines(&stdout),
        &expected(set),
    );
    // The stub must at least be valid Python syntax.
    let out = run_python(
        &dir,
        &[
            "-c",
            &format!("import ast; ast.parse(open('{m}.pyi').read())"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// -----------------------------------------------------------------------------------------
// The schemas
// -----------------------------------------------------------------------------------------

fn schema_files() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for dir in [repo().join("schemas"), repo().join("python/tests/schemas")] {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "toml") {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

/// Runs `f` on the layout set of every schema file, with the file's path relative to the repo.
fn for_each_schema(mut f: impl FnMut(&LayoutSet<'_>)) {
    let files = schema_files();
    assert!(!files.is_empty(), "no schemas found");
    for path in files {
        let schema =
            shmgen_codegen::parse_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        schema.with_layouts(|set| f(set));
    }
}

// -----------------------------------------------------------------------------------------
// Tests
// -----------------------------------------------------------------------------------------

#[test]
fn tricky_layouts_three_ways() {
    let set = tricky();
    let header = c::render(&set);
    check_c(&set, &header);
    check_python(&set, &python::render(&set), &python::render_stub(&set));
}

#[test]
fn every_schema_compiles_in_c_and_python_and_agrees() {
    for_each_schema(|set| {
        check_c(set, &c::render(set));
        check_python(set, &python::render(set), &python::render_stub(set));
    });
}

#[test]
fn output_is_deterministic() {
    let a = tricky();
    let b = tricky();
    assert_eq!(python::render(&a), python::render(&b));
    assert_eq!(python::render_stub(&a), python::render_stub(&b));
    assert_eq!(c::render(&a), c::render(&b));
}

#[test]
fn snapshots() {
    let set = tricky();
    insta::assert_snapshot!("tricky.py", python::render(&set));
    insta::assert_snapshot!("tricky.pyi", python::render_stub(&set));
    insta::assert_snapshot!("tricky.h", c::render(&set));
    for_each_schema(|set| {
        if set.schema == "metrics" {
            insta::assert_snapshot!("metrics.py", python::render(set));
            insta::assert_snapshot!("metrics.pyi", python::render_stub(set));
            insta::assert_snapshot!("metrics.h", c::render(set));
        }
    });
}

#[test]
fn banner_and_fingerprint_macros() {
    let set = tricky();
    let py = python::render(&set);
    assert!(py.starts_with("# @generated by shmgen "), "{py}");
    assert!(py.contains(&format!("FINGERPRINT = {:#018x}", set.fingerprint())));
    assert!(
        !py.lines().any(|l| {
            let l = l.trim_start();
            l.starts_with("_pack_") || l.starts_with("_align_")
        }),
        "ctypes must get the layout from explicit padding only"
    );
    let h = c::render(&set);
    assert!(h.starts_with("/* @generated by shmgen "));
    assert!(h.contains(&format!(
        "#define TRICKY_FINGERPRINT {:#018x}ULL",
        set.fingerprint()
    )));
    assert!(h.contains("#define TRICKY_VERSION 3u"));
    assert!(h.contains("#define TRICKY_ROOT \"Tricky\""));
}

/// The modules the Python runtime's tests import are the emitter's current output.
#[test]
fn python_test_modules_are_current() {
    let dir = repo().join("python/tests/generated");
    std::fs::create_dir_all(&dir).unwrap();
    let bless = std::env::var_os("SHMGEN_BLESS").is_some();
    let mut stale = Vec::new();
    let mut check = |name: String, contents: String| {
        let path = dir.join(&name);
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() != Some(contents.as_str()) {
            if bless || current.is_none() {
                std::fs::write(&path, contents).unwrap();
            } else {
                stale.push(name);
            }
        }
    };
    let set = tricky();
    check("tricky.py".into(), python::render(&set));
    check("tricky.pyi".into(), python::render_stub(&set));
    for_each_schema(|set| {
        let m = module_name(set.schema);
        check(format!("{m}.py"), python::render(set));
        check(format!("{m}.pyi"), python::render_stub(set));
    });
    assert!(
        stale.is_empty(),
        "python/tests/generated is stale ({}); rerun with SHMGEN_BLESS=1",
        stale.join(", ")
    );
}

// -----------------------------------------------------------------------------------------
// Rust and Python on the same segment
// -----------------------------------------------------------------------------------------

mod xlang {
    //! A Rust process (this test binary, or a re-run of it as a child) and Python processes
    //! (the generated `counter.py` over the pure-Python runtime) share segments of
    //! `python/tests/schemas/counter.toml`, whose Rust twin is derived below.

    use std::io::{BufRead, BufReader};
    use std::process::{Child, Command, Stdio};
    use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
    use std::time::Duration;

    use shmgen_runtime::{CacheAligned, Mutex, Segment, SharedLayout};

    use super::repo;

    /// The Rust twin of `counter.toml` (same names, types, order and `align = 64`).
    #[derive(SharedLayout)]
    #[repr(C)]
    pub struct Counter {
        locked: Mutex<i64>,
        atomic: CacheAligned<AtomicU64>,
    }

    static SEQ: AtomicU32 = AtomicU32::new(0);

    /// A unique segment name, removed when dropped.
    struct Name(String);

    impl Name {
        fn new(tag: &str) -> Self {
            let n = format!(
                "shmgen-xlang-{tag}-{}-{}",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::Relaxed)
            );
            let _ = std::fs::remove_file(format!("/dev/shm/{n}"));
            Name(n)
        }
    }

    impl Drop for Name {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(format!("/dev/shm/{}", self.0));
        }
    }

    fn python(code: &str, args: &[&str]) -> Command {
        let mut c = Command::new("python3");
        c.arg("-c").arg(code).args(args);
        c.env(
            "PYTHONPATH",
            format!(
                "{}:{}",
                repo().join("python/src").display(),
                repo().join("python/tests/generated").display()
            ),
        );
        c.env("PYTHONDONTWRITEBYTECODE", "1");
        c
    }

    fn run_python(code: &str, args: &[&str]) -> String {
        let out = python(code, args).output().expect("python3");
        assert!(
            out.status.success(),
            "python failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits for a child to print `word` at the end of a line of its stdout (libtest may print
    /// `test name ... ` before a child test's own output).
    fn wait_for(child: &mut Child, word: &str) {
        let out = child.stdout.as_mut().expect("piped stdout");
        let mut line = String::new();
        let mut r = BufReader::new(out);
        loop {
            line.clear();
            let n = r.read_line(&mut line).unwrap();
            assert!(n > 0, "the child exited before saying {word:?}");
            if line.trim_end().ends_with(word) {
                return;
            }
        }
    }

    /// This test binary again, as a child with a role (see `xlang_child`).
    fn rust_child(role: &str, name: &str) -> Child {
        Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "xlang::xlang_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("SHMGEN_XLANG_ROLE", role)
            .env("SHMGEN_XLANG_NAME", name)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// The child side: does nothing unless started by `rust_child`.
    #[test]
    fn xlang_child() {
        let (Ok(role), Ok(name)) = (
            std::env::var("SHMGEN_XLANG_ROLE"),
            std::env::var("SHMGEN_XLANG_NAME"),
        ) else {
            return;
        };
        match role.as_str() {
            "create-and-exit" => {
                let seg = Segment::<Counter>::create(&name).unwrap();
                seg.atomic.store(42, Ordering::SeqCst);
                *seg.locked.lock().unwrap() = 7;
                println!("created");
                // Exits; the segment must outlive this process.
            }
            "hold-lock" => {
                let seg = Segment::<Counter>::open(&name).unwrap();
                let mut g = seg.locked.lock().unwrap();
                *g = 777;
                println!("locked");
                std::thread::sleep(Duration::from_secs(120));
            }
            other => panic!("unknown role {other}"),
        }
    }

    #[test]
    fn derived_twin_has_the_schema_fingerprint() {
        let schema =
            shmgen_codegen::parse_file(repo().join("python/tests/schemas/counter.toml")).unwrap();
        assert_eq!(schema.fingerprint(), Counter::FINGERPRINT);
        let out = run_python("import counter; print(hex(counter.FINGERPRINT))", &[]);
        assert_eq!(out.trim(), format!("{:#x}", Counter::FINGERPRINT));
    }

    /// One Rust process and two Python processes, 1,000,000 increments in all, on the same
    /// mutex field and the same atomic field: exact totals.
    #[test]
    fn rust_and_python_increment_the_same_fields() {
        const RUST: i64 = 400_000;
        const PY: i64 = 300_000;
        let name = Name::new("count");
        let seg = Segment::<Counter>::create(&name.0).unwrap();
        let code = "import sys, counter\n\
            s = counter.Counter.open(sys.argv[1])\n\
            for _ in range(int(sys.argv[2])):\n\
            \x20   s.atomic.add(1)\n\
            \x20   with s.locked.lock() as c:\n\
            \x20       c.value += 1\n\
            print('done')\n";
        let n = PY.to_string();
        let kids: Vec<Child> = (0..2)
            .map(|_| {
                python(code, &[&name.0, &n])
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for _ in 0..RUST {
            seg.atomic.fetch_add(1, Ordering::Relaxed);
            *seg.locked.lock().unwrap() += 1;
        }
        for k in kids {
            let out = k.wait_with_output().unwrap();
            assert!(out.status.success());
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "done");
        }
        let total = RUST + 2 * PY;
        assert_eq!(total, 1_000_000);
        assert_eq!(seg.atomic.load(Ordering::SeqCst), total as u64);
        assert_eq!(*seg.locked.lock().unwrap(), total);
    }

    #[test]
    fn python_killed_holding_the_lock_is_recovered_by_rust() {
        let name = Name::new("pykill");
        let seg = Segment::<Counter>::create(&name.0).unwrap();
        *seg.locked.lock().unwrap() = 10;
        let code = "import sys, time, counter\n\
            s = counter.Counter.open(sys.argv[1])\n\
            g = s.locked.lock()\n\
            g.value.value = 999\n\
            print('locked', flush=True)\n\
            time.sleep(120)\n";
        let mut kid = python(code, &[&name.0])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for(&mut kid, "locked");
        kid.kill().unwrap(); // SIGKILL
        kid.wait().unwrap();
        match seg.locked.lock() {
            Ok(_) => panic!("the Python holder died: Rust must get OwnerDied"),
            Err(died) => {
                let mut g = died.into_inner();
                assert_eq!(*g, 999);
                *g = 10; // repair
            }
        }
        *seg.locked.lock().expect("works again") += 1;
        assert_eq!(*seg.locked.lock().unwrap(), 11);
        // And Python keeps using it too.
        let out = run_python(
            "import sys, counter\n\
             s = counter.Counter.open(sys.argv[1])\n\
             with s.locked.lock() as c:\n    c.value += 1\n    print(c.value)\n",
            &[&name.0],
        );
        assert_eq!(out.trim(), "12");
    }

    #[test]
    fn rust_killed_holding_the_lock_is_recovered_by_python() {
        let name = Name::new("rskill");
        let seg = Segment::<Counter>::create(&name.0).unwrap();
        let mut kid = rust_child("hold-lock", &name.0);
        wait_for(&mut kid, "locked");
        kid.kill().unwrap();
        kid.wait().unwrap();
        let out = run_python(
            "import sys, shmgen, counter\n\
             s = counter.Counter.open(sys.argv[1])\n\
             try:\n\
             \x20   with s.locked.lock() as c:\n\
             \x20       print('no owner death?')\n\
             except shmgen.OwnerDied as died:\n\
             \x20   with died as c:\n\
             \x20       print('died', c.value)\n\
             \x20       c.value = 5\n\
             with s.locked.lock() as c:\n\
             \x20   c.value += 1\n\
             \x20   print('value', c.value)\n",
            &[&name.0],
        );
        assert_eq!(out, "died 777\nvalue 6\n");
        assert_eq!(*seg.locked.lock().expect("recovered by Python"), 6);
    }

    #[test]
    fn rust_created_segment_outlives_rust_and_opens_in_python() {
        let name = Name::new("persist");
        let mut kid = rust_child("create-and-exit", &name.0);
        wait_for(&mut kid, "created");
        assert!(kid.wait().unwrap().success());
        let out = run_python(
            "import sys, counter\n\
             s = counter.Counter.open(sys.argv[1])\n\
             with s.locked.lock() as c:\n    print(s.atomic.load(), c.value)\n",
            &[&name.0],
        );
        assert_eq!(out.trim(), "42 7");
        // Python opening it as another layout: an exception naming both fingerprints.
        let out = run_python(
            "import sys, shmgen, pyfixture_v2\n\
             try:\n    pyfixture_v2.Fixture.open(sys.argv[1])\n\
             except shmgen.LayoutMismatch as e:\n    print(e)\n",
            &[&name.0],
        );
        let fp_v2 =
            shmgen_codegen::parse_file(repo().join("python/tests/schemas/pyfixture_v2.toml"))
                .unwrap()
                .fingerprint();
        assert!(
            out.contains(&format!("{:#018x}", Counter::FINGERPRINT)),
            "{out}"
        );
        assert!(out.contains(&format!("{fp_v2:#018x}")), "{out}");
    }

    #[test]
    fn python_created_segment_opens_in_rust() {
        let name = Name::new("pycreate");
        run_python(
            "import sys, counter\n\
             s = counter.Counter.create(sys.argv[1])\n\
             s.atomic.add(3)\n\
             with s.locked.lock() as c:\n    c.value = -4\n",
            &[&name.0],
        );
        let seg = Segment::<Counter>::open(&name.0).expect("Rust opens a Python-made segment");
        assert_eq!(seg.atomic.load(Ordering::SeqCst), 3);
        assert_eq!(*seg.locked.lock().unwrap(), -4);
        assert!(!seg.is_creator());
    }
}
