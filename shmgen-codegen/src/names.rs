//! Name rules: what a schema, struct or field may be called so that it is a valid, unreserved
//! identifier in Rust, Python and C alike.

/// Rust's strict and reserved keywords (all editions).
const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "gen", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// Python's hard keywords (soft keywords such as `match` or `type` are valid names there).
const PYTHON_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// C keywords up to C23 (names starting with `_` and a capital are rejected separately).
const C_KEYWORDS: &[&str] = &[
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    "alignas",
    "alignof",
    "bool",
    "constexpr",
    "false",
    "nullptr",
    "static_assert",
    "thread_local",
    "true",
    "typeof",
    "typeof_unqual",
];

/// Type names a struct may not take: they would shadow a built-in type in one of the
/// generated languages or in the schema language itself.
const RESERVED_TYPE_NAMES: &[&str] = &[
    "u8",
    "i8",
    "u16",
    "i16",
    "u32",
    "i32",
    "u64",
    "i64",
    "u128",
    "i128",
    "usize",
    "isize",
    "f16",
    "f32",
    "f64",
    "f128",
    "bool",
    "char",
    "str",
    "bytes",
    "semaphore",
    "event",
    "ring",
];

/// Why a name is not acceptable, or `None` when it is.
pub(crate) fn check(name: &str) -> Option<(String, String)> {
    let mut chars = name.chars();
    let starts_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !starts_ok || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || name == "_" {
        return Some((
            format!("`{name}` is not an identifier"),
            "names are ASCII letters, digits and `_`, and do not start with a digit".to_owned(),
        ));
    }
    let langs: Vec<&str> = [
        ("Rust", RUST_KEYWORDS),
        ("Python", PYTHON_KEYWORDS),
        ("C", C_KEYWORDS),
    ]
    .iter()
    .filter(|(_, kws)| kws.contains(&name))
    .map(|(lang, _)| *lang)
    .collect();
    if !langs.is_empty() {
        return Some((
            format!("`{name}` is a keyword in {}", langs.join(" and ")),
            "generated code must compile in Rust, Python and C: pick another name (e.g. add a suffix)"
                .to_owned(),
        ));
    }
    if name.starts_with("__")
        || name.starts_with('_') && name[1..].starts_with(|c: char| c.is_ascii_uppercase())
    {
        return Some((
            format!("`{name}` is a reserved name"),
            "C reserves names starting with `__` or `_` and a capital letter, and Python mangles `__` names"
                .to_owned(),
        ));
    }
    if name.len() > 1 && name.starts_with('_') && name.ends_with('_') {
        return Some((
            format!("`{name}` is a reserved name"),
            "Python's ctypes uses names like `_fields_` (underscore at both ends)".to_owned(),
        ));
    }
    None
}

/// Like [`check`], plus the rules for struct names (which become type names everywhere).
pub(crate) fn check_type_name(name: &str) -> Option<(String, String)> {
    if let Some(problem) = check(name) {
        return Some(problem);
    }
    if RESERVED_TYPE_NAMES.contains(&name) || crate::validate::builtin_type(name).is_some() {
        return Some((
            format!("`{name}` is the name of a built-in type"),
            "pick another name for the struct".to_owned(),
        ));
    }
    if name.ends_with("_t") {
        return Some((
            format!("`{name}` is a reserved name"),
            "POSIX reserves type names ending in `_t` for C".to_owned(),
        ));
    }
    if name.len() > shmgen_runtime::abi::MAX_ROOT_NAME {
        return Some((
            format!(
                "struct name is {} bytes long; at most {} are allowed",
                name.len(),
                shmgen_runtime::abi::MAX_ROOT_NAME
            ),
            "a struct may be a segment's root, and the segment header stores its name in 64 bytes"
                .to_owned(),
        ));
    }
    None
}

/// True when `name` follows Rust's `UpperCamelCase` convention for types.
pub(crate) fn is_upper_camel(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase()) && !name.contains('_')
}

/// True when `name` follows Rust's `snake_case` convention for fields.
pub(crate) fn is_snake(name: &str) -> bool {
    !name.chars().any(|c| c.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check("completed").is_none());
        assert!(check("_reserved").is_none());
        assert!(check("x9").is_none());
        assert!(check("9x").is_some());
        assert!(check("a-b").is_some());
        assert!(check("é").is_some());
        assert!(check("").is_some());
        assert!(check("_").is_some());
        assert!(check("type").is_some());
        assert!(check("lambda").is_some());
        assert!(check("int").is_some());
        assert!(check("__x").is_some());
        assert!(check("_X").is_some());
        assert!(check("_fields_").is_some());
        assert!(check("match").is_some());
        assert!(check_type_name("WorkerStats").is_none());
        assert!(check_type_name("u64").is_some());
        assert!(check_type_name("c_int").is_some());
        assert!(check_type_name("foo_t").is_some());
        assert!(check_type_name(&"A".repeat(64)).is_some());
        assert!(check_type_name(&"A".repeat(63)).is_none());
    }
}
