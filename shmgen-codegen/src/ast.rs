//! The parsed form of a schema file: TOML text → a spanned value tree (serde + `toml::Spanned`)
//! → [`Document`], keeping the byte span of every key and value for diagnostics.
//!
//! This stage only checks the TOML shape: known keys, value kinds (string, integer, ...),
//! required keys. Meaning (types, names, attribute combinations) is `validate`'s job.

use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

use crate::error::{Problem, Sink};

/// A byte range in the schema text.
pub(crate) type Span = Range<usize>;

/// A value with the span of its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Sp<T> {
    pub span: Span,
    pub value: T,
}

impl<T> Sp<T> {
    fn new(span: Span, value: T) -> Self {
        Sp { span, value }
    }
}

/// Any TOML value, with spans all the way down. Deserialized through serde from `toml`'s
/// deserializer, which hands out spans for `Spanned<T>` at every level.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    Str(String),
    Int(i64),
    Float,
    Bool(bool),
    Datetime,
    Array(Vec<Spanned<Value>>),
    Table(Vec<(Spanned<String>, Spanned<Value>)>),
}

impl Value {
    /// How the value is called in messages: "a string", "an integer", ...
    fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Float => "a float",
            Value::Bool(_) => "a boolean",
            Value::Datetime => "a date-time",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

/// The key `toml` uses to pass a date-time through serde.
const DATETIME_KEY: &str = "$__toml_private_datetime";

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TOML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom("integer out of range"))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        {
            let _ = v;
            Ok(Value::Float)
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Value>>()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            if key.get_ref() == DATETIME_KEY {
                map.next_value::<de::IgnoredAny>()?;
                return Ok(Value::Datetime);
            }
            let value = map.next_value::<Spanned<Value>>()?;
            entries.push((key, value));
        }
        Ok(Value::Table(entries))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

/// A schema file's top level.
#[derive(Clone, Debug, Default)]
pub(crate) struct Document {
    /// `schema = "..."`.
    pub schema: Option<Sp<String>>,
    /// `version = N`.
    pub version: Option<Sp<i64>>,
    /// `root = "..."`.
    pub root: Option<Sp<String>>,
    /// The `[[struct]]` entries, in file order.
    pub structs: Vec<StructDef>,
}

/// One `[[struct]]`.
#[derive(Clone, Debug)]
pub(crate) struct StructDef {
    /// The whole table.
    pub span: Span,
    pub name: Option<Sp<String>>,
    pub doc: Option<Sp<String>>,
    pub fields: Vec<FieldDef>,
    /// The `fields` key, when present.
    pub fields_key: Option<Span>,
    /// False when `fields` is there but is not an array (already reported).
    pub fields_ok: bool,
}

/// One entry of a struct's `fields`.
#[derive(Clone, Debug)]
pub(crate) struct FieldDef {
    /// The whole inline table.
    pub span: Span,
    pub name: Option<Sp<String>>,
    pub ty: Option<Sp<String>>,
    pub lock: Option<Sp<String>>,
    pub atomic: Option<Sp<bool>>,
    pub align: Option<Sp<i64>>,
    pub doc: Option<Sp<String>>,
    pub initial: Option<Sp<i64>>,
    pub item: Option<Sp<String>>,
    pub capacity: Option<Sp<i64>>,
}

const TOP_KEYS: &[&str] = &["schema", "version", "root", "struct"];
const STRUCT_KEYS: &[&str] = &["name", "doc", "fields"];
const FIELD_KEYS: &[&str] = &[
    "name", "type", "lock", "atomic", "align", "doc", "initial", "item", "capacity",
];

/// Parses TOML text into a [`Document`], reporting syntax and shape problems into `sink`.
/// Returns `None` when the text is not TOML at all.
pub(crate) fn parse(text: &str, sink: &mut Sink) -> Option<Document> {
    let top: Value = match toml::from_str(text) {
        Ok(v) => v,
        Err(first) => {
            // Report every syntax error the recovering parser finds, not just the first.
            let (_, errors) = toml::de::DeTable::parse_recoverable(text);
            let errors = if errors.is_empty() {
                vec![first]
            } else {
                errors
            };
            for e in errors {
                let span = e.span().unwrap_or(0..0);
                let message = e.message().trim().to_owned();
                sink.push(
                    Problem::new(span, format!("invalid TOML: {message}"))
                        .help("see https://toml.io for the syntax; a schema's fields are an array of inline tables"),
                );
            }
            return None;
        }
    };
    let Value::Table(entries) = top else {
        sink.push(Problem::new(0..0, "a schema must be a TOML table"));
        return None;
    };
    let mut doc = Document::default();
    for (key, value) in entries {
        let span = value.span();
        match key.get_ref().as_str() {
            "schema" => doc.schema = string(&key, value, sink),
            "version" => doc.version = integer(&key, value, sink),
            "root" => doc.root = string(&key, value, sink),
            "struct" => match value.into_inner() {
                Value::Array(items) => {
                    for item in items {
                        if let Some(s) = struct_def(item, sink) {
                            doc.structs.push(s);
                        }
                    }
                }
                other => sink.push(
                    wrong_kind(&key, span, &other, "an array of tables")
                        .help("declare each struct with a `[[struct]]` header"),
                ),
            },
            _ => sink.push(unknown_key(&key, TOP_KEYS, "at the top level")),
        }
    }
    Some(doc)
}

fn struct_def(item: Spanned<Value>, sink: &mut Sink) -> Option<StructDef> {
    let span = item.span();
    let entries = match item.into_inner() {
        Value::Table(entries) => entries,
        other => {
            sink.push(
                Problem::new(
                    span,
                    format!("a struct must be a table, found {}", other.kind()),
                )
                .help("declare each struct with a `[[struct]]` header"),
            );
            return None;
        }
    };
    let mut s = StructDef {
        span: span.clone(),
        name: None,
        doc: None,
        fields: Vec::new(),
        fields_key: None,
        fields_ok: true,
    };
    let mut has_name = false;
    for (key, value) in entries {
        let vspan = value.span();
        match key.get_ref().as_str() {
            "name" => {
                has_name = true;
                s.name = string(&key, value, sink);
            }
            "doc" => s.doc = string(&key, value, sink),
            "fields" => {
                s.fields_key = Some(key.span());
                match value.into_inner() {
                    Value::Array(items) => {
                        for item in items {
                            if let Some(f) = field_def(item, sink) {
                                s.fields.push(f);
                            }
                        }
                    }
                    other => {
                        s.fields_ok = false;
                        sink.push(
                            wrong_kind(&key, vspan, &other, "an array of inline tables")
                                .help("write `fields = [ { name = \"x\", type = \"u64\" }, ... ]`"),
                        );
                    }
                }
            }
            _ => sink.push(unknown_key(&key, STRUCT_KEYS, "in a struct")),
        }
    }
    if !has_name {
        sink.push(
            Problem::new(header_span(&s.span), "struct without a name")
                .label("this struct has no `name`")
                .help("add `name = \"MyStruct\"`"),
        );
    }
    Some(s)
}

fn field_def(item: Spanned<Value>, sink: &mut Sink) -> Option<FieldDef> {
    let span = item.span();
    let entries = match item.into_inner() {
        Value::Table(entries) => entries,
        other => {
            sink.push(
                Problem::new(
                    span,
                    format!("a field must be a table, found {}", other.kind()),
                )
                .help("write a field as `{ name = \"x\", type = \"u64\" }`"),
            );
            return None;
        }
    };
    let mut f = FieldDef {
        span: span.clone(),
        name: None,
        ty: None,
        lock: None,
        atomic: None,
        align: None,
        doc: None,
        initial: None,
        item: None,
        capacity: None,
    };
    let (mut has_name, mut has_type) = (false, false);
    for (key, value) in entries {
        match key.get_ref().as_str() {
            "name" => {
                has_name = true;
                f.name = string(&key, value, sink);
            }
            "type" => {
                has_type = true;
                f.ty = string(&key, value, sink);
            }
            "lock" => f.lock = string(&key, value, sink),
            "atomic" => f.atomic = boolean(&key, value, sink),
            "align" => f.align = integer(&key, value, sink),
            "doc" => f.doc = string(&key, value, sink),
            "initial" => f.initial = integer(&key, value, sink),
            "item" => f.item = string(&key, value, sink),
            "capacity" => f.capacity = integer(&key, value, sink),
            _ => sink.push(unknown_key(&key, FIELD_KEYS, "in a field")),
        }
    }
    let head = header_span(&f.span);
    if !has_name {
        sink.push(
            Problem::new(head.clone(), "field without a name")
                .label("this field has no `name`")
                .help("add `name = \"my_field\"`"),
        );
    }
    if !has_type {
        sink.push(
            Problem::new(head, "field without a type")
                .label("this field has no `type`")
                .help("add e.g. `type = \"u64\"`"),
        );
    }
    Some(f)
}

/// The first character of a table's span (its `{` or `[[`), where "missing key" errors point.
fn header_span(span: &Span) -> Span {
    span.start..span.start + 1
}

fn wrong_kind(key: &Spanned<String>, span: Span, found: &Value, expected: &str) -> Problem {
    Problem::new(
        span,
        format!(
            "`{}` must be {expected}, found {}",
            key.get_ref(),
            found.kind()
        ),
    )
}

fn string(key: &Spanned<String>, v: Spanned<Value>, sink: &mut Sink) -> Option<Sp<String>> {
    let span = v.span();
    match v.into_inner() {
        Value::Str(s) => Some(Sp::new(span, s)),
        other => {
            sink.push(wrong_kind(key, span, &other, "a string"));
            None
        }
    }
}

fn integer(key: &Spanned<String>, v: Spanned<Value>, sink: &mut Sink) -> Option<Sp<i64>> {
    let span = v.span();
    match v.into_inner() {
        Value::Int(i) => Some(Sp::new(span, i)),
        other => {
            sink.push(wrong_kind(key, span, &other, "an integer"));
            None
        }
    }
}

fn boolean(key: &Spanned<String>, v: Spanned<Value>, sink: &mut Sink) -> Option<Sp<bool>> {
    let span = v.span();
    match v.into_inner() {
        Value::Bool(b) => Some(Sp::new(span, b)),
        other => {
            sink.push(wrong_kind(key, span, &other, "true or false"));
            None
        }
    }
}

fn unknown_key(key: &Spanned<String>, known: &[&str], place: &str) -> Problem {
    let name = key.get_ref();
    let p = Problem::new(key.span(), format!("unknown key `{name}` {place}"));
    match suggest(name, known.iter().copied()) {
        Some(s) => p.help(format!("did you mean `{s}`?")),
        None => p.help(format!(
            "the keys allowed {place} are: {}",
            known.join(", ")
        )),
    }
}

/// The closest candidate to `word` by edit distance, when it is close enough to be a typo.
pub(crate) fn suggest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|&(d, _)| d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The parsed form of a type string such as `[[f64; 3]; 4]`, `str[32]` or `WorkerStats`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TypeExpr {
    /// A scalar, alias, struct or special type name.
    Name(Sp<String>),
    /// `[elem; len]`.
    Array {
        elem: Box<TypeExpr>,
        len: Sp<u64>,
        depth: usize,
    },
    /// `str[N]`.
    Str(Sp<u64>),
    /// `bytes[N]`.
    Bytes(Sp<u64>),
}

/// Where the characters of a string value sit in the file, when they can be mapped one to one
/// (a basic or literal string without escapes); otherwise every sub-span is the whole value.
#[derive(Clone, Debug)]
pub(crate) struct StrMap {
    whole: Span,
    base: Option<usize>,
}

impl StrMap {
    pub(crate) fn new(text: &str, v: &Sp<String>) -> Self {
        let raw = text.get(v.span.clone()).unwrap_or("");
        let inner = raw
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .or_else(|| raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')));
        let base = match inner {
            Some(inner) if inner == v.value => Some(v.span.start + 1),
            _ => None,
        };
        StrMap {
            whole: v.span.clone(),
            base,
        }
    }

    /// The file span of bytes `r` of the string's value.
    pub(crate) fn span(&self, r: Range<usize>) -> Span {
        match self.base {
            Some(b) => b + r.start..b + r.end.max(r.start + 1),
            None => self.whole.clone(),
        }
    }
}

/// Parses a type string. Errors point into the string where possible.
pub(crate) fn parse_type(
    v: &Sp<String>,
    map: &StrMap,
    max_dims: usize,
) -> Result<TypeExpr, Problem> {
    let mut p = TypeParser {
        s: &v.value,
        pos: 0,
        map,
        max_dims,
    };
    let t = p.ty(0)?;
    p.ws();
    if p.pos < p.s.len() {
        return Err(p.err_here("unexpected text after the type"));
    }
    Ok(t)
}

/// The help text for a malformed type.
pub(crate) const TYPE_HELP: &str =
    "types look like `u64`, `c_int`, `[f64; 3]`, `[[u8; 4]; 2]`, `str[32]`, `bytes[16]`, a struct name, `semaphore`, `event` or `ring`";

struct TypeParser<'s> {
    s: &'s str,
    pos: usize,
    map: &'s StrMap,
    max_dims: usize,
}

impl TypeParser<'_> {
    fn ws(&mut self) {
        while self.s[self.pos..].starts_with([' ', '\t']) {
            self.pos += 1;
        }
    }

    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn err_here(&self, msg: &str) -> Problem {
        let end = self
            .rest()
            .chars()
            .next()
            .map_or(self.pos, |c| self.pos + c.len_utf8());
        let shown = &self.s[self.pos..end];
        let message = if shown.is_empty() {
            format!("malformed type `{}`: {msg}", self.s)
        } else {
            format!("malformed type `{}`: {msg} (found `{shown}`)", self.s)
        };
        Problem::new(self.map.span(self.pos..end), message).help(TYPE_HELP)
    }

    fn expect(&mut self, c: char, what: &str) -> Result<(), Problem> {
        self.ws();
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            Ok(())
        } else {
            Err(self.err_here(&format!("expected {what}")))
        }
    }

    fn ident(&mut self) -> Option<Sp<String>> {
        let start = self.pos;
        let len = self
            .rest()
            .char_indices()
            .find(|&(i, c)| !(c.is_alphanumeric() || c == '_') || (i == 0 && c.is_numeric()))
            .map_or(self.rest().len(), |(i, _)| i);
        if len == 0 {
            return None;
        }
        self.pos += len;
        Some(Sp::new(
            self.map.span(start..self.pos),
            self.s[start..self.pos].to_owned(),
        ))
    }

    fn number(&mut self) -> Result<Sp<u64>, Problem> {
        self.ws();
        let start = self.pos;
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_digit() || c == '_'))
            .unwrap_or(self.rest().len());
        let digits = &self.s[start..start + len];
        if !digits.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(self.err_here("expected a length (a decimal number)"));
        }
        self.pos += len;
        let span = self.map.span(start..self.pos);
        let clean: String = digits.chars().filter(|&c| c != '_').collect();
        match clean.parse::<u64>() {
            Ok(n) => Ok(Sp::new(span, n)),
            Err(_) => Err(
                Problem::new(span, format!("length `{digits}` is too large"))
                    .help("lengths must fit in 64 bits (and the whole struct in memory)"),
            ),
        }
    }

    fn ty(&mut self, depth: usize) -> Result<TypeExpr, Problem> {
        self.ws();
        let start = self.pos;
        if self.rest().starts_with('[') {
            if depth >= self.max_dims {
                let end = self.s.len();
                return Err(Problem::new(
                    self.map.span(start..end),
                    format!(
                        "too many array dimensions in `{}` (at most {})",
                        self.s, self.max_dims
                    ),
                )
                .help("flatten the array, or wrap inner dimensions in a struct"));
            }
            self.pos += 1;
            let elem = self.ty(depth + 1)?;
            self.expect(';', "`;` between the element type and the length")?;
            let len = self.number()?;
            self.expect(']', "`]`")?;
            return Ok(TypeExpr::Array {
                elem: Box::new(elem),
                len,
                depth,
            });
        }
        let Some(name) = self.ident() else {
            return Err(self.err_here("expected a type name or `[`"));
        };
        match name.value.as_str() {
            "str" | "bytes" => {
                self.ws();
                if !self.rest().starts_with('[') {
                    return Err(Problem::new(
                        name.span.clone(),
                        format!("`{}` needs a length: `{}[N]`", name.value, name.value),
                    )
                    .help("e.g. `str[32]` holds up to 32 bytes of UTF-8"));
                }
                self.pos += 1;
                let n = self.number()?;
                self.expect(']', "`]`")?;
                Ok(if name.value == "str" {
                    TypeExpr::Str(n)
                } else {
                    TypeExpr::Bytes(n)
                })
            }
            _ => Ok(TypeExpr::Name(name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(s: &str) -> Result<TypeExpr, Problem> {
        let text = format!("type = \"{s}\"");
        let v = Sp::new(7..text.len(), s.to_owned());
        let map = StrMap::new(&text, &v);
        parse_type(&v, &map, 4)
    }

    #[test]
    fn types() {
        assert!(matches!(ty("u64"), Ok(TypeExpr::Name(_))));
        let Ok(TypeExpr::Array { len, elem, .. }) = ty(" [ [f64;3] ; 4 ] ") else {
            panic!()
        };
        assert_eq!(len.value, 4);
        assert!(matches!(*elem, TypeExpr::Array { .. }));
        assert!(matches!(
            ty("str[32]"),
            Ok(TypeExpr::Str(Sp { value: 32, .. }))
        ));
        assert!(matches!(
            ty("bytes [1_000]"),
            Ok(TypeExpr::Bytes(Sp { value: 1000, .. }))
        ));
        assert!(ty("[u8; 3").is_err());
        assert!(ty("[u8 3]").is_err());
        assert!(ty("u8 u8").is_err());
        assert!(ty("str").is_err());
        assert!(ty("[[[[[u8; 1]; 1]; 1]; 1]; 1]").is_err());
        assert!(ty("[[[[u8; 1]; 1]; 1]; 1]").is_ok());
        assert!(ty("[u8; 99999999999999999999999]").is_err());
        assert!(ty("").is_err());
        assert!(ty(&"[".repeat(100_000)).is_err());
    }

    #[test]
    fn spans_point_into_the_string() {
        let e = ty("[u8 3]").unwrap_err();
        assert_eq!(e.span, 12..13);
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("capacty", FIELD_KEYS.iter().copied()),
            Some("capacity")
        );
        assert_eq!(suggest("zzz", FIELD_KEYS.iter().copied()), None);
    }
}
