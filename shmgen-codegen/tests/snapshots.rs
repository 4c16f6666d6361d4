//! insta snapshots of everything the schema compiler shows a user: the `shmgen check` layout
//! table and the generated Rust of every schema in `schemas/`, and the error report of every
//! file in `schemas/invalid/`. The directories are listed at run time, so a new schema file is
//! covered (and needs its snapshot accepted) without touching this file.

use std::path::Path;

use shmgen_codegen::parse_str;

/// `(label, stem, text)` of every `*.toml` in `dir` (relative to the workspace root), sorted.
/// The label is the path relative to the workspace root, as the CLI would show it.
fn schema_files(dir: &str) -> Vec<(String, String, String)> {
    let abs = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&abs)
        .unwrap_or_else(|e| panic!("read {}: {e}", abs.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).unwrap();
            (format!("{dir}/{name}"), stem, text)
        })
        .collect()
}

#[test]
fn layout_tables() {
    let files = schema_files("schemas");
    assert!(
        files.len() >= 12,
        "expected the schemas of issue 2, found {}",
        files.len()
    );
    for (label, stem, text) in files {
        let schema = parse_str(&label, &text).unwrap_or_else(|e| panic!("{label}:\n{e}"));
        insta::assert_snapshot!(format!("layout_{stem}"), schema.layout_table());
    }
}

#[test]
fn generated_rust() {
    for (label, stem, text) in schema_files("schemas") {
        let schema = parse_str(&label, &text).unwrap_or_else(|e| panic!("{label}:\n{e}"));
        insta::assert_snapshot!(format!("rust_{stem}"), schema.render_rust());
    }
}

#[test]
fn invalid_schemas_report_errors() {
    let files = schema_files("schemas/invalid");
    assert!(
        files.len() >= 20,
        "expected at least 20 broken schemas, found {}",
        files.len()
    );
    for (label, stem, text) in files {
        let errors = match parse_str(&label, &text) {
            Ok(_) => panic!("{label} should be rejected"),
            Err(e) => e,
        };
        assert!(!errors.is_empty());
        for d in errors.diagnostics() {
            assert_eq!(d.file, label);
            assert!(d.line >= 1 && d.column >= 1);
        }
        insta::assert_snapshot!(format!("error_{stem}"), errors.to_string());
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let (label, _, text) = schema_files("schemas/invalid")
        .into_iter()
        .find(|(_, stem, _)| stem == "many_problems")
        .expect("schemas/invalid/many_problems.toml");
    let errors = parse_str(&label, &text).expect_err("invalid");
    let messages: Vec<&str> = errors
        .diagnostics()
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert!(errors.len() >= 10, "{messages:#?}");
    for needle in [
        "unknown key",
        "unknown type",
        "atomic",
        "lock kind",
        "duplicate field",
        "zero-length",
        "keyword",
        "negative semaphore",
        "ring without a capacity",
        "power of two",
        "contains itself",
    ] {
        assert!(
            messages.iter().any(|m| m.contains(needle)),
            "no {needle:?} in {messages:#?}"
        );
    }
}

#[test]
fn diagnostics_point_at_the_offending_text() {
    let text =
        "[[struct]]\nname = \"S\"\nfields = [\n  { name = \"a\", type = \"[u65; 2]\" },\n]\n";
    let errors = parse_str("x.toml", text).expect_err("invalid");
    let d = &errors.diagnostics()[0];
    assert_eq!((d.line, d.column, d.text.as_str()), (4, 26, "u65"));
    assert_eq!(d.message, "unknown type \"u65\"");
    assert_eq!(d.help.as_deref(), Some("did you mean `u64`?"));
    let rendered = errors.to_string();
    assert!(
        rendered.starts_with("error: unknown type \"u65\"\n --> x.toml:4:26\n  |\n4 |"),
        "{rendered}"
    );
}
