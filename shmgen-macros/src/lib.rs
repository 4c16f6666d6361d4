//! `#[derive(SharedLayout)]`: the type table and fingerprint of a `#[repr(C)]` struct, so a
//! struct written in Rust can live in a shmgen segment, exactly like one generated from a TOML
//! schema.
//!
//! Use it through `shmgen_runtime`, which re-exports it (default feature `derive`):
//!
//! ```
//! use std::sync::atomic::AtomicU64;
//! use shmgen_runtime::{CacheAligned, Event, Mutex, SeqLock, SharedLayout, Str};
//!
//! /// What one worker reports.
//! #[derive(SharedLayout, Clone, Copy)]
//! #[repr(C)]
//! struct WorkerStats {
//!     completed: i32,
//!     errors: i32,
//!     throughput: i32,
//! }
//!
//! #[derive(SharedLayout)]
//! #[repr(C)]
//! #[shmgen(version = 2)]
//! struct Metrics {
//!     /// Per-worker counters, behind one robust process-shared mutex.
//!     workers: Mutex<[WorkerStats; 4]>,
//!     /// `atomic = true`, on a cache line of its own (`align = 64`).
//!     tasks_done: CacheAligned<AtomicU64>,
//!     status: SeqLock<Str<32>>,
//!     shutdown: Event,
//! }
//!
//! // rustc computed every number; the table and fingerprint are constants.
//! const FP: u64 = Metrics::FINGERPRINT;
//! assert_eq!(Metrics::LAYOUT.name, "Metrics");
//! assert_eq!(Metrics::LAYOUT.fields[1].offset, core::mem::offset_of!(Metrics, tasks_done));
//! assert_eq!(Metrics::VERSION, 2);
//! # let _ = FP;
//! ```
//!
//! # What the derive emits
//! For `#[repr(C)] struct Name { a: A, .. }`:
//! - `unsafe impl SharedLayout for Name`: `LAYOUT` is a `StructLayout` whose every number is a
//!   `size_of`, `align_of` or `offset_of!` evaluated by rustc, and whose field kinds are
//!   `<A as Field>::KIND`; `VERSION` comes from `#[shmgen(version = N)]` (default 1) and
//!   `FINGERPRINT` is the trait's default, the runtime's one `fingerprint` `const fn`. A TOML
//!   schema with the same fields therefore gets the same table and the same fingerprint.
//! - `unsafe impl Element for Name`, so `Name` nests in other shared structs, arrays,
//!   `Mutex<Name>`, `SeqLock<Name>` (with `Copy`) and `Ring<Name, N>` (with `Copy`).
//! - compile-time checks: every field type implements `Field` (one error per bad field, at its
//!   type, in shmgen's words), the name fits the segment header (`abi::MAX_ROOT_NAME`, 63 bytes)
//!   and the alignment a page (`abi::MAX_ALIGN`); `Name: Sync` is required by the trait
//!   (`Send` is not needed: the value lives in the mapping and is never moved).
//!
//! Each `unsafe impl` carries its `SAFETY:` argument as a doc attribute (token streams cannot
//! hold comments), visible in `cargo expand` and in the type's documentation.
//!
//! # Hygiene
//! The expansion names everything by absolute path (`::core::mem::offset_of!`,
//! `::shmgen_runtime::Field`, or the path given by `#[shmgen(crate = "...")]`), so it works in
//! any module, inside functions, in `no_std` crates and with the runtime renamed in
//! `Cargo.toml`. One exception: a module marked `#[no_implicit_prelude]` cannot use the derive,
//! because rustc does not resolve the `#[diagnostic::on_unimplemented]` attribute the expansion
//! uses for its "not a shmgen field type" error there.
//!
//! # `#![forbid(unsafe_code)]`
//! The `unsafe impl`s are spanned at the derive's call site, so rustc treats them as
//! macro-generated code: a crate with `#![forbid(unsafe_code)]` can use the derive (as it can
//! serde's or zerocopy's), and its own code stays under the lint. Tested by
//! `tests/forbid_unsafe.rs` and `tests/renamed-crate`.

#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

use proc_macro::TokenStream;

// Also compiled into the expansion snapshot tests (`tests/expand.rs`) with `#[path]`, which is
// why the implementation lives in a module that does not touch `proc_macro`.
mod expand;

/// Derives `shmgen_runtime::SharedLayout` (and `Element`) for a `#[repr(C)]` struct with named
/// fields.
///
/// # Field types
/// - scalars: `u8 i8 u16 i16 u32 i32 u64 i64 f32 f64 bool`;
/// - arrays `[T; N]` of any value type, nestable;
/// - `Str<N>` (UTF-8 text in N bytes), `Bytes<N>` (raw bytes);
/// - other `#[derive(SharedLayout)]` (or TOML-generated) structs;
/// - `Mutex<T>` (`lock = "mutex"`), `RMutex<T>` (`lock = "rmutex"`), `SeqLock<T>`
///   (`lock = "seqlock"`, `T: Copy`);
/// - std atomics `AtomicU8 AtomicI8 AtomicU16 AtomicI16 AtomicU32 AtomicI32 AtomicU64 AtomicI64
///   AtomicBool` (`atomic = true`);
/// - `Semaphore<K>` (`semaphore`, `initial = K`), `Event` (`event`), `Ring<T, N>` (`ring`,
///   `item = T`, `capacity = N`, `T: Copy`);
/// - `CacheAligned<T>` (`align = 64`) and `Align2<T>` .. `Align4096<T>` (`align = N`) around
///   any of the above.
///
/// Refused with an error that names the field, says why and what to use instead: raw pointers,
/// references, function pointers, `String`/`str`, `Vec` and other collections, `Box`,
/// `Rc`/`Arc`, `Option`/`Result`, `char`, `usize`/`isize` (and their atomics), `u128`/`i128`,
/// `Cell`/`RefCell`, std's process-local locks, tuples, slices and trait objects. The syntax
/// check is a courtesy; the real gate is the `Field` bound asserted for every field type, so an
/// alias of a refused type is still refused by rustc. (A type of your own that happens to be
/// called `Box` or `Option` can be named `self::Box` or `crate::Box`.)
///
/// The struct itself must be `#[repr(C)]` (`#[repr(C, align(N))]` is fine: rustc computes the
/// layout and the table records it; TOML has no equivalent, so such a struct has no TOML twin),
/// have named fields, at least one field, no generic parameters and no `packed`; enums and
/// unions are refused. Every problem is reported at once.
///
/// # Attributes
/// - `#[shmgen(version = N)]`: the layout version (a `u32`, default 1), part of the fingerprint.
/// - `#[shmgen(crate = "path")]`: where `shmgen_runtime` is, when it is renamed or re-exported
///   (default `::shmgen_runtime`).
///
/// Fields take no attributes: their kind comes from their type. `///` docs on the struct and its
/// fields become the table's `doc` strings.
#[proc_macro_derive(SharedLayout, attributes(shmgen))]
pub fn derive_shared_layout(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::derive(&input).into()
}
