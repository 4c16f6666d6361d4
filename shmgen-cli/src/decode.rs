//! Decodes a copy of a segment's payload by its type table: every field's value, and the state
//! of every primitive (lock word, seqlock sequence, semaphore and event words, ring positions),
//! read from bytes as `docs/FORMAT.md` §4 lays them out. Renders the result as aligned text
//! lines (one per leaf, with array abbreviation) or as JSON.

use serde_json::{json, Map, Value as Json};
use shmgen_runtime::abi;
use shmgen_runtime::{Elem, FieldLayout, Kind, Prim, StructLayout, Ty};

use crate::shm::tid_alive;

/// Arrays longer than this are cut (the rest is counted, not decoded).
const MAX_DECODED: usize = 1 << 16;
/// Scalars shown inline per array in text.
const INLINE_ITEMS: usize = 16;
/// Struct elements expanded per array in text.
const STRUCT_ITEMS: usize = 8;
/// Bytes shown as hex in text.
const HEX_BYTES: usize = 32;
/// Pending ring items shown.
const RING_ITEMS: usize = 8;
/// Nested structs deeper than this are not decoded.
const MAX_DEPTH: usize = 64;

/// `FUTEX_WAITERS`: some thread sleeps on the lock word.
const FUTEX_WAITERS: u32 = 0x8000_0000;
/// `FUTEX_OWNER_DIED`: the kernel found the holder dead (robust list) and cleared its tid.
const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
/// `FUTEX_TID_MASK`.
const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
/// glibc's `__owner` while a locker that got `EOWNERDEAD` has not called `consistent` yet.
const PTHREAD_MUTEX_INCONSISTENT: i32 = i32::MAX;
/// glibc's `__owner` after such a locker unlocked without `consistent`: the lock is dead.
const PTHREAD_MUTEX_NOTRECOVERABLE: i32 = i32::MAX - 1;

/// The state of a glibc robust mutex, from its first 12 bytes (`struct __pthread_mutex_s`:
/// `int __lock` at 0, `unsigned __count` at 4, `int __owner` at 8 on x86_64 and aarch64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockInfo {
    /// `__lock`: the holder's tid, `| FUTEX_WAITERS`, `| FUTEX_OWNER_DIED`; 0 when free.
    pub word: u32,
    /// `__count`: recursion depth of an RMutex.
    pub count: u32,
    /// `__owner`.
    pub owner: i32,
    /// Whether it is an RMutex (the depth means something).
    pub recursive: bool,
}

impl LockInfo {
    fn read(b: &Bytes<'_>, off: usize, recursive: bool) -> Option<LockInfo> {
        Some(LockInfo {
            word: b.u32(off)?,
            count: b.u32(off + 4)?,
            owner: b.u32(off + 8)? as i32,
            recursive,
        })
    }

    /// The holder's thread id (0 when free).
    pub fn tid(&self) -> u32 {
        self.word & FUTEX_TID_MASK
    }

    /// `free`, `held`, `owner_died` or `not_recoverable`.
    pub fn state(&self) -> &'static str {
        if self.owner == PTHREAD_MUTEX_NOTRECOVERABLE {
            "not_recoverable"
        } else if self.tid() == 0 && self.word & FUTEX_OWNER_DIED != 0 {
            "owner_died"
        } else if self.tid() == 0 {
            "free"
        } else {
            "held"
        }
    }

    /// A sentence: `free`, `held by tid 123`, `owner died (...)`.
    pub fn describe(&self) -> String {
        let waiters = if self.word & FUTEX_WAITERS != 0 {
            ", with waiters"
        } else {
            ""
        };
        match self.state() {
            "not_recoverable" => {
                "not recoverable (a holder died and the next one unlocked without repairing)".into()
            }
            "owner_died" => {
                format!("free, owner died holding it (the next locker gets OwnerDied){waiters}")
            }
            "free" => format!("free{waiters}"),
            _ => {
                let tid = self.tid();
                let mut s = format!("held by tid {tid}");
                if !tid_alive(tid) {
                    s.push_str(" (dead: the next locker gets OwnerDied)");
                }
                if self.owner == PTHREAD_MUTEX_INCONSISTENT || self.word & FUTEX_OWNER_DIED != 0 {
                    s.push_str(", taken over from a dead owner, not yet repaired");
                }
                if self.recursive && self.count > 1 {
                    s.push_str(&format!(", depth {}", self.count));
                }
                s.push_str(waiters);
                s
            }
        }
    }

    fn json(&self) -> Json {
        let mut m = Map::new();
        m.insert("state".into(), json!(self.state()));
        if self.tid() != 0 {
            m.insert("tid".into(), json!(self.tid()));
            m.insert("tid_alive".into(), json!(tid_alive(self.tid())));
        }
        m.insert("waiters".into(), json!(self.word & FUTEX_WAITERS != 0));
        if self.recursive {
            m.insert("depth".into(), json!(self.count));
        }
        Json::Object(m)
    }
}

/// A decoded value.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A float.
    Float(f64),
    /// A `bool` byte (anything but 0 and 1 is shown as invalid).
    Bool(u8),
    /// `str[N]`: the valid UTF-8 up to the first NUL; `valid` is false when bytes were dropped.
    Str {
        /// The text.
        text: String,
        /// False when the bytes were not all valid UTF-8.
        valid: bool,
    },
    /// `bytes[N]`.
    Bytes(Vec<u8>),
    /// An array: the decoded elements and the full length.
    Array {
        /// Decoded elements (at most [`MAX_DECODED`]).
        items: Vec<Val>,
        /// The array's length.
        len: usize,
    },
    /// A struct's fields in order.
    Struct(Vec<(String, Val)>),
    /// `lock = "mutex"` / `"rmutex"`.
    Mutex {
        /// The lock word.
        lock: LockInfo,
        /// The protected value.
        value: Box<Val>,
    },
    /// `lock = "seqlock"`.
    SeqLock {
        /// The sequence (published writes).
        seq: u64,
        /// The writer mutex.
        writer: LockInfo,
        /// The current copy (`seq & 1`).
        value: Box<Val>,
    },
    /// `atomic = true`.
    Atomic(Box<Val>),
    /// `semaphore`.
    Semaphore {
        /// The count.
        count: u32,
        /// Processes sleeping in `acquire`.
        waiters: u32,
    },
    /// `event`.
    Event {
        /// 0 clear, 1 set.
        state: u32,
        /// Processes sleeping in `wait`.
        waiters: u32,
    },
    /// `ring`.
    Ring {
        /// `N`.
        capacity: usize,
        /// The consumers' position.
        head: u64,
        /// The producers' position.
        tail: u64,
        /// `closed` (non-zero: closed).
        closed: u32,
        /// The capacity and slot size in the ring's metadata line.
        meta: (u64, u64),
        /// The next pending items (`None`: in flight, not yet published).
        next: Vec<Option<Val>>,
    },
    /// Bytes outside the copy (a corrupt or truncated segment).
    Unreadable,
}

/// A bounds-checked view of the payload copy.
#[derive(Clone, Copy)]
pub struct Bytes<'a>(pub &'a [u8]);

impl Bytes<'_> {
    fn get(&self, off: usize, len: usize) -> Option<&[u8]> {
        self.0.get(off..off.checked_add(len)?)
    }

    fn u32(&self, off: usize) -> Option<u32> {
        let b = self.get(off, 4)?;
        Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&self, off: usize) -> Option<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.get(off, 8)?);
        Some(u64::from_ne_bytes(a))
    }
}

fn prim(b: &Bytes<'_>, off: usize, p: Prim) -> Val {
    let Some(s) = b.get(off, p.size()) else {
        return Val::Unreadable;
    };
    let mut a = [0u8; 8];
    a[..s.len()].copy_from_slice(s);
    let u = u64::from_ne_bytes(a);
    match p {
        Prim::U8 | Prim::U16 | Prim::U32 | Prim::U64 => Val::UInt(u),
        Prim::I8 => Val::Int(i64::from(s[0] as i8)),
        Prim::I16 => Val::Int(i64::from(i16::from_ne_bytes([s[0], s[1]]))),
        Prim::I32 => Val::Int(i64::from(i32::from_ne_bytes([s[0], s[1], s[2], s[3]]))),
        Prim::I64 => Val::Int(u as i64),
        Prim::F32 => Val::Float(f64::from(f32::from_ne_bytes([s[0], s[1], s[2], s[3]]))),
        Prim::F64 => Val::Float(f64::from_bits(u)),
        Prim::Bool => Val::Bool(s[0]),
    }
}

fn elem(b: &Bytes<'_>, off: usize, e: &Elem<'_>, depth: usize) -> Val {
    match e {
        Elem::Prim(p) => prim(b, off, *p),
        Elem::Str(n) => match b.get(off, *n) {
            Some(s) => {
                let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
                let s = &s[..end];
                match std::str::from_utf8(s) {
                    Ok(t) => Val::Str {
                        text: t.to_owned(),
                        valid: true,
                    },
                    Err(e) => Val::Str {
                        text: String::from_utf8_lossy(&s[..e.valid_up_to()]).into_owned(),
                        valid: false,
                    },
                }
            }
            None => Val::Unreadable,
        },
        Elem::Bytes(n) => b
            .get(off, *n)
            .map_or(Val::Unreadable, |s| Val::Bytes(s.to_vec())),
        Elem::Struct(s) => structure(b, off, s, depth + 1),
    }
}

/// Decodes a value of type `t` at `off`.
pub fn value(b: &Bytes<'_>, off: usize, t: &Ty<'_>, depth: usize) -> Val {
    if depth > MAX_DEPTH {
        return Val::Unreadable;
    }
    let Some(inner) = t.element() else {
        return elem(b, off, &t.elem, depth);
    };
    let len = t.dims()[0];
    let items = (0..len.min(MAX_DECODED))
        .map(|i| {
            value(
                b,
                off.saturating_add(i.saturating_mul(inner.size)),
                &inner,
                depth,
            )
        })
        .collect();
    Val::Array { items, len }
}

/// Decodes struct `s` at `off`.
pub fn structure(b: &Bytes<'_>, off: usize, s: &StructLayout<'_>, depth: usize) -> Val {
    if depth > MAX_DEPTH {
        return Val::Unreadable;
    }
    Val::Struct(
        s.fields
            .iter()
            .map(|f| {
                (
                    f.name.to_owned(),
                    field(b, off.saturating_add(f.offset), f, depth),
                )
            })
            .collect(),
    )
}

fn field(b: &Bytes<'_>, off: usize, f: &FieldLayout<'_>, depth: usize) -> Val {
    let r = || -> Option<Val> {
        Some(match f.kind {
            Kind::Plain(t) => value(b, off, &t, depth),
            Kind::Atomic(p) => Val::Atomic(Box::new(prim(b, off, p))),
            Kind::Mutex(t) | Kind::RMutex(t) => {
                let c = abi::mutex_layout(t.size, t.align)?;
                Val::Mutex {
                    lock: LockInfo::read(b, off, matches!(f.kind, Kind::RMutex(_)))?,
                    value: Box::new(value(b, off + c.value_offset, &t, depth)),
                }
            }
            Kind::SeqLock(t) => {
                let c = abi::seqlock_layout(t.size, t.align)?;
                let seq = b.u64(off)?;
                let copy = off + c.value_offset + (seq & 1) as usize * c.stride;
                Val::SeqLock {
                    seq,
                    writer: LockInfo::read(b, off + 8, false)?,
                    value: Box::new(value(b, copy, &t, depth)),
                }
            }
            Kind::Semaphore { .. } => Val::Semaphore {
                count: b.u32(off)?,
                waiters: b.u32(off + 4)?,
            },
            Kind::Event => Val::Event {
                state: b.u32(off)?,
                waiters: b.u32(off + 4)?,
            },
            Kind::Ring { item, capacity } => {
                let c = abi::ring_layout(item.size, item.align, capacity)?;
                let slot = abi::ring_slot_layout(item.size, item.align)?;
                let head = b.u64(off)?;
                let tail = b.u64(off + 64)?;
                let fill = tail.saturating_sub(head).min(capacity as u64);
                let next = (0..fill.min(RING_ITEMS as u64))
                    .map(|k| {
                        let pos = head.wrapping_add(k);
                        let i = (pos % capacity.max(1) as u64) as usize;
                        let s = off + c.value_offset + i * c.stride;
                        (b.u64(s) == Some(pos.wrapping_add(1)))
                            .then(|| value(b, s + slot.value_offset, &item, depth))
                    })
                    .collect();
                Val::Ring {
                    capacity,
                    head,
                    tail,
                    closed: b.u32(off + 144)?,
                    meta: (b.u64(off + 128)?, b.u64(off + 136)?),
                    next,
                }
            }
        })
    };
    r().unwrap_or(Val::Unreadable)
}

// ---------------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------------

/// One line of the text view.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// Where the value is: `workers[0].completed`.
    pub path: String,
    /// The value as shown.
    pub value: String,
    /// What kind of field it is and its state, shown after the value.
    pub note: String,
    /// Numbers worth a rate in `watch`: `(label, value)`; label "" for the value itself.
    pub nums: Vec<(&'static str, f64)>,
}

fn num(v: &Val) -> Option<f64> {
    match v {
        Val::Int(i) => Some(*i as f64),
        Val::UInt(u) => Some(*u as f64),
        Val::Float(f) => Some(*f),
        Val::Atomic(v) => num(v),
        _ => None,
    }
}

fn quote(s: &str) -> String {
    let mut o = String::from('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            c if c.is_control() => o.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn hex(b: &[u8]) -> String {
    let shown: String = b
        .iter()
        .take(HEX_BYTES)
        .map(|x| format!("{x:02x}"))
        .collect();
    if b.len() > HEX_BYTES {
        format!("{shown}… ({} more bytes)", b.len() - HEX_BYTES)
    } else {
        shown
    }
}

/// A value that fits on one line (scalars, text, bytes, arrays of those), or `None` for
/// structs and anything holding one.
fn inline(v: &Val) -> Option<String> {
    Some(match v {
        Val::Int(i) => i.to_string(),
        Val::UInt(u) => u.to_string(),
        Val::Float(f) => f.to_string(),
        Val::Bool(0) => "false".into(),
        Val::Bool(1) => "true".into(),
        Val::Bool(n) => format!("invalid bool ({n})"),
        Val::Str { text, valid } => {
            if *valid {
                quote(text)
            } else {
                format!("{} (then invalid UTF-8)", quote(text))
            }
        }
        Val::Bytes(b) => hex(b),
        Val::Array { items, len } => {
            let mut parts = Vec::new();
            for it in items.iter().take(INLINE_ITEMS) {
                parts.push(inline(it)?);
            }
            if *len > INLINE_ITEMS {
                parts.push(format!("… {} more", len - INLINE_ITEMS));
            }
            format!("[{}]", parts.join(", "))
        }
        Val::Unreadable => "<outside the segment>".into(),
        _ => return None,
    })
}

fn push(
    out: &mut Vec<Line>,
    path: &str,
    value: String,
    note: String,
    nums: Vec<(&'static str, f64)>,
) {
    out.push(Line {
        path: path.to_owned(),
        value,
        note,
        nums,
    });
}

/// Lines for a plain value at `path` with `note` on its first line.
fn value_lines(
    out: &mut Vec<Line>,
    path: &str,
    v: &Val,
    note: String,
    extra: Vec<(&'static str, f64)>,
) {
    if let Some(s) = inline(v) {
        let mut nums: Vec<(&'static str, f64)> = num(v).map(|n| ("", n)).into_iter().collect();
        nums.extend(extra);
        push(out, path, s, note, nums);
        return;
    }
    if !note.is_empty() || !extra.is_empty() {
        push(out, path, String::new(), note, extra);
    }
    match v {
        Val::Struct(fields) => {
            for (name, fv) in fields {
                let p = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                lines_of(out, &p, fv);
            }
        }
        Val::Array { items, len } => {
            for (i, it) in items.iter().enumerate().take(STRUCT_ITEMS) {
                value_lines(out, &format!("{path}[{i}]"), it, String::new(), Vec::new());
            }
            if *len > STRUCT_ITEMS {
                push(
                    out,
                    &format!("{path}[{STRUCT_ITEMS}..{len}]"),
                    format!("… {} more elements", len - STRUCT_ITEMS),
                    String::new(),
                    Vec::new(),
                );
            }
        }
        _ => {}
    }
}

/// The text lines of a field's value at `path`.
pub fn lines_of(out: &mut Vec<Line>, path: &str, v: &Val) {
    match v {
        Val::Atomic(inner) => {
            let n = num(inner).map(|n| ("", n)).into_iter().collect();
            push(
                out,
                path,
                inline(inner).unwrap_or_default(),
                "atomic".into(),
                n,
            );
        }
        Val::Mutex { lock, value } => {
            let kind = if lock.recursive { "rmutex" } else { "mutex" };
            value_lines(
                out,
                path,
                value,
                format!("{kind}: {}", lock.describe()),
                Vec::new(),
            );
        }
        Val::SeqLock { seq, writer, value } => {
            let w = if writer.state() == "free" {
                String::new()
            } else {
                format!(", writer lock {}", writer.describe())
            };
            value_lines(
                out,
                path,
                value,
                format!("seqlock: seq {seq}{w}"),
                vec![("writes", *seq as f64)],
            );
        }
        Val::Semaphore { count, waiters } => push(
            out,
            path,
            count.to_string(),
            format!("semaphore, {waiters} waiting"),
            vec![("", f64::from(*count))],
        ),
        Val::Event { state, waiters } => {
            let s = match state {
                0 => "clear".to_owned(),
                1 => "set".to_owned(),
                n => format!("invalid state {n}"),
            };
            push(
                out,
                path,
                s,
                format!("event, {waiters} waiting"),
                Vec::new(),
            );
        }
        Val::Ring {
            capacity,
            head,
            tail,
            closed,
            meta,
            next,
        } => {
            let fill = tail.wrapping_sub(*head) as i64;
            let state = if *closed != 0 { "closed" } else { "open" };
            let mut note = format!("ring: head {head}, tail {tail}, {state}");
            if meta.0 != *capacity as u64 {
                note.push_str(&format!(", metadata says capacity {} (corrupt?)", meta.0));
            }
            push(
                out,
                path,
                format!("{fill}/{capacity} queued"),
                note,
                vec![("pushed", *tail as f64), ("popped", *head as f64)],
            );
            if !next.is_empty() {
                let items: Vec<String> = next
                    .iter()
                    .map(|v| match v {
                        Some(v) => inline(v).unwrap_or_else(|| "{…}".into()),
                        None => "<in flight>".into(),
                    })
                    .collect();
                let more = if fill > next.len() as i64 {
                    format!(", … {} more", fill - next.len() as i64)
                } else {
                    String::new()
                };
                push(
                    out,
                    &format!("{path}.next"),
                    format!("[{}{more}]", items.join(", ")),
                    String::new(),
                    Vec::new(),
                );
            }
        }
        v => value_lines(out, path, v, String::new(), Vec::new()),
    }
}

/// Formats lines as aligned columns: path, value, `(note)`; `extra[i]` is appended to line i.
pub fn format_lines(lines: &[Line], extra: &[String]) -> String {
    let pw = lines
        .iter()
        .map(|l| l.path.chars().count())
        .max()
        .unwrap_or(0);
    let vw = lines
        .iter()
        .map(|l| l.value.chars().count())
        .max()
        .unwrap_or(0)
        .min(48);
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        let mut s = format!("  {:<pw$}  {:<vw$}", l.path, l.value);
        if !l.note.is_empty() {
            s.push_str(&format!("  ({})", l.note));
        }
        if let Some(e) = extra.get(i).filter(|e| !e.is_empty()) {
            s.push_str("  ");
            s.push_str(e);
        }
        out.push_str(s.trim_end());
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

/// The JSON form of a decoded value: scalars as numbers/strings, structs as objects, and each
/// primitive as an object with `kind`, its state, and `value`.
pub fn to_json(v: &Val) -> Json {
    match v {
        Val::Int(i) => json!(i),
        Val::UInt(u) => json!(u),
        Val::Float(f) => json!(f),
        Val::Bool(0) => json!(false),
        Val::Bool(1) => json!(true),
        Val::Bool(n) => json!({ "invalid_bool": n }),
        Val::Str { text, valid } => {
            if *valid {
                json!(text)
            } else {
                json!({ "text": text, "invalid_utf8": true })
            }
        }
        Val::Bytes(b) => json!(b.iter().map(|x| format!("{x:02x}")).collect::<String>()),
        Val::Array { items, len } => {
            if items.len() < *len {
                json!({ "items": items.iter().map(to_json).collect::<Vec<_>>(), "len": len, "truncated": true })
            } else {
                Json::Array(items.iter().map(to_json).collect())
            }
        }
        Val::Struct(fields) => Json::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
        Val::Mutex { lock, value } => json!({
            "kind": if lock.recursive { "rmutex" } else { "mutex" },
            "lock": lock.json(),
            "value": to_json(value),
        }),
        Val::SeqLock { seq, writer, value } => json!({
            "kind": "seqlock",
            "seq": seq,
            "writer": writer.json(),
            "value": to_json(value),
        }),
        Val::Atomic(inner) => json!({ "kind": "atomic", "value": to_json(inner) }),
        Val::Semaphore { count, waiters } => {
            json!({ "kind": "semaphore", "count": count, "waiters": waiters })
        }
        Val::Event { state, waiters } => {
            json!({ "kind": "event", "set": *state == 1, "state": state, "waiters": waiters })
        }
        Val::Ring {
            capacity,
            head,
            tail,
            closed,
            meta,
            next,
        } => json!({
            "kind": "ring",
            "capacity": capacity,
            "head": head,
            "tail": tail,
            "fill": tail.wrapping_sub(*head) as i64,
            "closed": *closed != 0,
            "meta_capacity": meta.0,
            "slot_size": meta.1,
            "next": next.iter().map(|v| v.as_ref().map_or(Json::Null, to_json)).collect::<Vec<_>>(),
        }),
        Val::Unreadable => Json::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_words() {
        let l = |word, owner| LockInfo {
            word,
            count: 0,
            owner,
            recursive: false,
        };
        assert_eq!(l(0, 0).state(), "free");
        assert_eq!(l(0, 0).describe(), "free");
        assert_eq!(l(FUTEX_OWNER_DIED, 0).state(), "owner_died");
        assert_eq!(l(1, 1).state(), "held");
        assert!(l(1, 1).describe().starts_with("held by tid 1"));
        assert_eq!(
            l(0, PTHREAD_MUTEX_NOTRECOVERABLE).state(),
            "not_recoverable"
        );
        // A tid that cannot exist is reported dead.
        assert!(l(FUTEX_TID_MASK | FUTEX_WAITERS, 0)
            .describe()
            .contains("(dead: the next locker gets OwnerDied), with waiters"));
    }

    #[test]
    fn scalars_and_text() {
        let b = [0xff, 0xff, 0xff, 0xff, b'h', b'i', 0, 0];
        let b = Bytes(&b);
        assert_eq!(prim(&b, 0, Prim::I32), Val::Int(-1));
        assert_eq!(prim(&b, 0, Prim::U32), Val::UInt(u64::from(u32::MAX)));
        assert_eq!(prim(&b, 6, Prim::U32), Val::Unreadable);
        assert_eq!(
            elem(&b, 4, &Elem::Str(4), 0),
            Val::Str {
                text: "hi".into(),
                valid: true
            }
        );
        let bad = [b'o', b'k', 0xff, b'x'];
        assert_eq!(
            inline(&elem(&Bytes(&bad), 0, &Elem::Str(4), 0)).unwrap(),
            "\"ok\" (then invalid UTF-8)"
        );
    }

    #[test]
    fn long_arrays_are_abbreviated() {
        let t = Ty::prim(Prim::U8).array(40);
        let data = [7u8; 40];
        let v = value(&Bytes(&data), 0, &t, 0);
        let s = inline(&v).unwrap();
        assert!(s.ends_with(", 7, … 24 more]"), "{s}");
    }
}
