//! shmgen's runtime: typed shared memory between processes.
//!
//! - [`table`]: the type table every path speaks, and the layout fingerprint.
//! - [`abi`]: the bytes of the header and of every primitive.
//! - [`layout`]: the [`SharedLayout`], [`Element`] and [`Field`] traits.
//! - [`sync`], [`ring`], [`text`], [`align`]: the field types generated and derived structs use.
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

pub mod abi;
pub mod align;
pub mod layout;
pub mod ring;
pub mod sync;
pub mod table;
pub mod text;

pub use align::*;
pub use layout::{Element, Field, SharedLayout};
pub use ring::Ring;
pub use sync::mutex::{Mutex, RMutex};
pub use sync::semaphore::{Event, Semaphore};
pub use sync::seqlock::SeqLock;
pub use table::{fingerprint, Elem, FieldLayout, Kind, Prim, StructLayout, Ty};
pub use text::{Bytes, Str};

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
