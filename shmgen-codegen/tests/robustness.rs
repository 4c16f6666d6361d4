//! The compiler never panics, whatever the input: every schema file cut at every character,
//! with every line removed, and a few hostile inputs. Each either compiles or reports errors
//! with positions inside the text.

use std::path::Path;

use shmgen_codegen::parse_str;

fn all_schema_texts() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas");
    let mut out = Vec::new();
    for dir in [root.clone(), root.join("invalid")] {
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for p in files {
            // The large schema is covered by the others' shapes; cutting it everywhere is slow.
            if p.file_stem().is_some_and(|s| s == "large") {
                continue;
            }
            out.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
    }
    out
}

fn compile_any(name: &str, text: &str) {
    match parse_str(name, text) {
        Ok(schema) => {
            // Whatever compiles also renders and reports.
            assert!(!schema.render_rust().is_empty());
            assert!(!schema.layout_table().is_empty());
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "{name}: an error without diagnostics");
            let lines = text.lines().count().max(1);
            for d in errors.diagnostics() {
                assert!(
                    d.line >= 1 && d.line <= lines + 1,
                    "{name}: line {} of {lines}",
                    d.line
                );
                assert!(d.column >= 1);
            }
            assert!(errors.to_string().contains("error: aborting due to"));
        }
    }
}

#[test]
fn truncated_schemas_never_panic() {
    for (name, text) in all_schema_texts() {
        for (i, _) in text.char_indices() {
            compile_any(&name, &text[..i]);
        }
    }
}

#[test]
fn schemas_without_a_line_never_panic() {
    for (name, text) in all_schema_texts() {
        let lines: Vec<&str> = text.lines().collect();
        for skip in 0..lines.len() {
            let cut: Vec<&str> = lines
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != skip)
                .map(|(_, l)| *l)
                .collect();
            compile_any(&name, &cut.join("\n"));
        }
    }
}

#[test]
fn hostile_inputs_never_panic() {
    let deep_type = format!("{}u8{}", "[".repeat(10_000), "; 1]".repeat(10_000));
    let long_chain: String = (0..200)
        .map(|i| {
            let ty = if i == 0 {
                "u8".to_owned()
            } else {
                format!("S{}", i - 1)
            };
            format!("[[struct]]\nname = \"S{i}\"\nfields = [{{ name = \"x\", type = \"{ty}\" }}]\n")
        })
        .collect();
    let fan_out: String = (0..40)
        .map(|i| {
            let ty = if i == 0 { "u8".to_owned() } else { format!("[S{}; 2]", i - 1) };
            format!(
                "[[struct]]\nname = \"S{i}\"\nfields = [{{ name = \"a\", type = \"{ty}\" }}, {{ name = \"b\", type = \"{ty}\" }}]\n"
            )
        })
        .collect();
    let inputs = [
        String::new(),
        "\u{feff}".to_owned(),
        "\0\0\0".to_owned(),
        "[[struct]]".to_owned(),
        "struct = 5".to_owned(),
        "struct = [1, 2]".to_owned(),
        "[struct]\nname = \"A\"".to_owned(),
        "x = 1979-05-27T07:32:00Z".to_owned(),
        "[[struct]]\nname = \"A\"\nfields = [{ name = \"é\", type = \"ü8\" }]".to_owned(),
        "[[struct]]\nname = \"A\"\nfields = [{ name = \"a\", type = \"str[18446744073709551615]\" }]".to_owned(),
        "[[struct]]\nname = \"A\"\nfields = [{ name = \"a\", type = \"ring\", item = \"[u64; 4294967296]\", capacity = 4294967296 }]".to_owned(),
        "[[struct]]\nname = \"A\"\nfields = [{ name = \"a\", type = \"u8\", align = 9223372036854775807 }]".to_owned(),
        "[[struct]]\nname = \"A\"\nfields = [{ name = \"a\", type = \"[u8; 1]\\t\" }]".to_owned(),
        "[[struct]]\nname = \"A\"\nfields = [{ name = \"a\", type = \"\\u0075\\u0036\\u0035\" }]".to_owned(),
        format!("[[struct]]\nname = \"A\"\nfields = [{{ name = \"a\", type = \"{deep_type}\" }}]"),
        format!("a = {}{}", "[".repeat(2_000), "]".repeat(2_000)),
        format!("root = \"S199\"\n{long_chain}"),
        format!("root = \"S39\"\n{fan_out}"),
    ];
    for (i, text) in inputs.iter().enumerate() {
        compile_any(&format!("hostile{i}.toml"), text);
    }
}
