//! shmgen's runtime: typed shared memory between processes.
//!
//! - [`table`]: the type table every path speaks, and the layout fingerprint.
//! - [`abi`]: the bytes of the header and of every primitive.
//! - [`layout`]: the [`SharedLayout`], [`Element`] and [`Field`] traits.
//! - [`sync`], [`ring`], [`text`], [`align`]: the field types generated and derived structs use.
//! - [`segment`]: [`Segment<T>`], a named shared-memory segment holding a `T`, and its start-up
//!   protocol; [`error`]: what can go wrong with one.
//!
//! All system calls live in one private module (`sys`); `unsafe` is confined to it, the field
//! types' modules and the segment's `Deref`/`init`, each block with a `// SAFETY:` proof.
//!
//! `docs/RUNTIME.md` describes the behaviour (start-up, owner death, errors, what is trusted);
//! `docs/FORMAT.md` the bytes.
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

pub mod abi;
pub mod align;
pub mod error;
pub mod inspect;
pub mod layout;
pub mod ring;
pub mod segment;
pub mod sync;
mod sys;
pub mod table;
pub mod text;

pub use align::*;
pub use error::{Error, LayoutId};
pub use layout::{Element, Field, SharedLayout};
pub use ring::{Closed, PopTimeoutError, PushTimeoutError, Ring, TryPopError, TryPushError};
pub use segment::{HeaderInfo, Segment, SegmentOptions};
pub use sync::mutex::{
    LockResult, LockTimeoutError, Mutex, MutexGuard, OwnerDied, RMutex, RMutexGuard, TryLockError,
};
pub use sync::semaphore::{Event, Semaphore};
pub use sync::seqlock::SeqLock;
pub use table::{fingerprint, Elem, FieldLayout, Kind, Prim, StructLayout, Ty};
pub use text::{Bytes, Str, StrTooLong};

#[cfg(feature = "derive")]
pub use shmgen_macros::SharedLayout;

/// Includes the Rust code that `shmgen_codegen::compile` wrote into `OUT_DIR` for a schema:
/// `shmgen_runtime::include_layout!("metrics");`.
#[macro_export]
macro_rules! include_layout {
    ($name:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $name, ".rs"));
    };
}
