//! The fuzz targets' checks as an ordinary test (stable Rust, no libFuzzer): every committed
//! corpus entry, a bounded number of random mutations of them (`SHMGEN_FUZZ_MUTATIONS`,
//! default 3000), and — for a sample of schemas that compile — the Python and C outputs
//! through `python3 -m py_compile` and `cc -fsyntax-only` (skipped when the tool is missing).
//!
//! `cargo test --manifest-path fuzz/Cargo.toml --release`

use std::path::{Path, PathBuf};
use std::process::Command;

use shmgen_codegen::emit::{c, python};

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn here() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// xorshift64*.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Dictionary tokens from `schema.dict` (the quoted strings, unescaped).
fn dictionary() -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(here().join("schema.dict")).unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with('"') && l.ends_with('"') && l.len() >= 2)
        .map(|l| {
            l[1..l.len() - 1]
                .replace("\\\"", "\"")
                .replace("\\\\", "\\")
                .into_bytes()
        })
        .collect()
}

fn mutate(rng: &mut Rng, input: &[u8], pool: &[Vec<u8>], dict: &[Vec<u8>]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(7) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            2 if !dict.is_empty() => {
                let t = &dict[rng.below(dict.len())];
                let i = rng.below(v.len() + 1);
                v.splice(i..i, t.iter().copied());
            }
            3 if !v.is_empty() => {
                let i = rng.below(v.len());
                let n = rng.below(v.len() - i + 1).min(64);
                v.drain(i..i + n);
            }
            4 if !pool.is_empty() => {
                let other = &pool[rng.below(pool.len())];
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = a + rng.below(other.len() - a + 1).min(256);
                    let i = rng.below(v.len() + 1);
                    v.splice(i..i, other[a..b].iter().copied());
                }
            }
            5 if !v.is_empty() => {
                let i = rng.below(v.len());
                let n = rng.below(v.len() - i + 1).min(64);
                let chunk = v[i..i + n].to_vec();
                v.splice(i..i, chunk);
            }
            _ => {
                let digits = [
                    "0",
                    "1",
                    "4096",
                    "18446744073709551615",
                    "-1",
                    "65536",
                    "255",
                ];
                let d = digits[rng.below(digits.len())].as_bytes();
                let i = rng.below(v.len() + 1);
                v.splice(i..i, d.iter().copied());
            }
        }
    }
    v.truncate(4096);
    v
}

fn mutations() -> usize {
    std::env::var("SHMGEN_FUZZ_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

#[test]
fn schema_corpus_and_mutations() {
    let mut pool: Vec<Vec<u8>> = entries(&here().join("corpus/schema"))
        .iter()
        .chain(entries(&here().join("../schemas")).iter())
        .chain(entries(&here().join("../schemas/invalid")).iter())
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert!(
        pool.len() >= 40,
        "the corpus is missing ({} entries)",
        pool.len()
    );
    for input in &pool {
        shmgen_fuzz::check_schema(input);
    }
    let dict = dictionary();
    let mut rng = Rng(0x5c4e_3a11_0000_0001);
    let base = pool.len();
    for _ in 0..mutations() {
        let pick = rng.below(base);
        let input = mutate(&mut rng, &pool[pick], &pool, &dict);
        shmgen_fuzz::check_schema(&input);
        if pool.len() < base + 200 && rng.below(10) == 0 {
            pool.push(input);
        }
    }
}

fn tool(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn sampled_outputs_compile() {
    let dir = std::env::temp_dir().join(format!("shmgen-fuzz-sample-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let have_python = tool("python3", "--version");
    let have_cc = tool("cc", "--version");
    let (mut python_ok, mut c_ok) = (0, 0);
    let mut compiled = 0;
    for (i, path) in entries(&here().join("corpus/schema")).iter().enumerate() {
        let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
        let Ok(schema) = shmgen_codegen::parse_str("fuzz.toml", &text) else {
            continue;
        };
        if compiled == 25 {
            break;
        }
        compiled += 1;
        let (py, h) = schema.with_layouts(|set| (python::render(set), c::render(set)));
        if have_python {
            let f = dir.join(format!("s{i}.py"));
            std::fs::write(&f, &py).unwrap();
            let out = Command::new("python3")
                .arg("-m")
                .arg("py_compile")
                .arg(&f)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: Python output does not compile: {}\n{py}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            python_ok += 1;
        }
        if have_cc {
            let f = dir.join(format!("s{i}.c"));
            std::fs::write(&f, format!("{h}\nint main(void) {{ return 0; }}\n")).unwrap();
            let out = Command::new("cc")
                .args(["-std=c11", "-Wall", "-Werror", "-fsyntax-only"])
                .arg(&f)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: C output does not compile: {}\n{h}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            c_ok += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(compiled > 0, "no corpus schema compiles");
    eprintln!("sampled {compiled} schemas: {python_ok} Python and {c_ok} C outputs compiled");
}

#[test]
fn segment_corpus_and_mutations() {
    let valid = shmgen_fuzz::valid_segment_bytes();
    let mut pool = vec![valid.clone()];
    pool.extend(
        entries(&here().join("corpus/segment"))
            .iter()
            .map(|p| std::fs::read(p).unwrap()),
    );
    for input in &pool {
        shmgen_fuzz::check_segment(input);
    }
    let mut rng = Rng(0x5e6e_0000_0000_0001);
    for _ in 0..mutations() / 3 {
        let mut v = pool[rng.below(pool.len())].clone();
        for _ in 0..1 + rng.below(4) {
            if v.is_empty() {
                break;
            }
            // Mostly the header, where the checks are.
            let i = if rng.below(4) == 0 {
                rng.below(v.len())
            } else {
                rng.below(v.len().min(128))
            };
            match rng.below(4) {
                0 => v[i] ^= 1 << rng.below(8),
                1 => v[i] = rng.next() as u8,
                2 => v.truncate(rng.below(v.len() + 1)),
                _ => {
                    let at = i & !7;
                    if at + 8 <= v.len() {
                        let x = [0u64, 1, u64::MAX, 1 << 63, rng.next()][rng.below(5)];
                        v[at..at + 8].copy_from_slice(&x.to_ne_bytes());
                    }
                }
            }
        }
        shmgen_fuzz::check_segment(&v);
    }
}

/// `SHMGEN_FUZZ_WRITE_SEED=1 cargo test --manifest-path fuzz/Cargo.toml write_segment_seed`
/// (re)writes `corpus/segment/seed-valid`, a valid segment file, after a layout change.
#[test]
fn write_segment_seed() {
    if std::env::var_os("SHMGEN_FUZZ_WRITE_SEED").is_none() {
        return;
    }
    let dir = here().join("corpus/segment");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("seed-valid"), shmgen_fuzz::valid_segment_bytes()).unwrap();
}

/// Doc strings with control characters (CR, NUL, `*/`, `/*`, `"""`) must neither break nor
/// inject code into the generated modules: found by the fuzzer (a NUL made the Python module
/// fail to compile) and then by hand (a CR in a field's doc ended a `#` comment and the rest ran
/// at import). The regression seeds are imported by Python and compiled by `cc -Werror`.
#[test]
fn doc_text_cannot_inject_code() {
    let dir = std::env::temp_dir().join(format!("shmgen-fuzz-inject-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let runtime = here().join("../python/src");
    let mut checked = 0;
    for path in entries(&here().join("corpus/schema")) {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        if !file.starts_with("regress-doc") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        shmgen_fuzz::check_schema(text.as_bytes());
        let schema = shmgen_codegen::parse_str("inject.toml", &text).unwrap();
        let (py, h) = schema.with_layouts(|set| (python::render(set), c::render(set)));
        std::fs::write(dir.join("inject.py"), &py).unwrap();
        std::fs::write(dir.join("inject.h"), &h).unwrap();
        if tool("python3", "--version") && runtime.join("shmgen").is_dir() {
            let out = Command::new("python3")
                .args(["-c", "import inject"])
                .current_dir(&dir)
                .env(
                    "PYTHONPATH",
                    format!("{}:{}", dir.display(), runtime.display()),
                )
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .output()
                .unwrap();
            assert!(
                out.status.success() && out.stdout.is_empty(),
                "{file}: importing the generated module ran or broke something: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        if tool("cc", "--version") {
            std::fs::write(
                dir.join("t.c"),
                "#include \"inject.h\"\nint main(void) { return 0; }\n",
            )
            .unwrap();
            let out = Command::new("cc")
                .args(["-std=c11", "-Wall", "-Werror", "-fsyntax-only", "t.c"])
                .current_dir(&dir)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{file}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        checked += 1;
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(checked, 3, "the regression seeds are missing");
}
