//! `inspect --consistent`: a payload copy in which each mutex-protected value was copied under
//! its mutex and each seqlock value read by its protocol (`shmgen_runtime::inspect`).

use std::time::Duration;

use shmgen_runtime::StructLayout;

/// How long `--consistent` waits for each mutex before copying without it.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(1);

/// Reads segment `name`'s payload consistently; notes about fields that could not be read so
/// go to standard error.
pub fn read(name: &str, root: &StructLayout<'_>, version: u32) -> anyhow::Result<Vec<u8>> {
    let copy = shmgen_runtime::inspect::consistent_copy(name, root, version, LOCK_TIMEOUT)?;
    for n in &copy.notes {
        eprintln!("note: {n}");
    }
    Ok(copy.payload)
}
