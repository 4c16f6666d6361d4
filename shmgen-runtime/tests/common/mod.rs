//! Helpers shared by the runtime's integration tests: hand-written `SharedLayout` impls (the
//! derive and the schema compiler are separate crates), unique segment names, and child
//! processes (this test binary re-run with a role in the environment).
#![allow(dead_code, unused_macros, unused_imports)]

use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use core::mem::{align_of, offset_of, size_of};
pub use shmgen_runtime::{Element, Field, FieldLayout, SharedLayout, StructLayout, Ty};

/// Declares a `#[repr(C)]` struct and implements `SharedLayout` for it the way generated code
/// does (table from `offset_of!`/`size_of`, kinds from `<T as Field>::KIND`).
/// `element` also makes it usable as a nested struct / array element.
macro_rules! shared_struct {
    (@impl $name:ident $(version $v:literal)?; $($f:ident : $t:ty),*) => {
        // SAFETY: `#[repr(C)]`, and the table is computed by rustc from the struct itself; every
        // field is a runtime field type or plain data, so zeroed + initialised is valid.
        unsafe impl $crate::common::SharedLayout for $name {
            const LAYOUT: $crate::common::StructLayout<'static> = $crate::common::StructLayout {
                name: stringify!($name),
                doc: "",
                size: $crate::common::size_of::<$name>(),
                align: $crate::common::align_of::<$name>(),
                fields: &[$($crate::common::FieldLayout {
                    name: stringify!($f),
                    doc: "",
                    offset: $crate::common::offset_of!($name, $f),
                    size: $crate::common::size_of::<$t>(),
                    align: $crate::common::align_of::<$t>(),
                    kind: <$t as $crate::common::Field>::KIND,
                }),*],
            };
            $(const VERSION: u32 = $v;)?
        }
    };
    ($(#[$m:meta])* struct $name:ident $(version $v:literal)? { $($f:ident : $t:ty),* $(,)? }) => {
        $(#[$m])*
        #[repr(C)]
        pub struct $name { $(pub $f: $t),* }
        shared_struct!(@impl $name $(version $v)?; $($f: $t),*);
    };
    ($(#[$m:meta])* element struct $name:ident { $($f:ident : $t:ty),* $(,)? }) => {
        $(#[$m])*
        #[repr(C)]
        pub struct $name { $(pub $f: $t),* }
        shared_struct!(@impl $name; $($f: $t),*);
        // SAFETY: `TY` is the struct's own table (size and alignment from rustc).
        unsafe impl $crate::common::Element for $name {
            const TY: $crate::common::Ty<'static> =
                $crate::common::Ty::structure(&<$name as $crate::common::SharedLayout>::LAYOUT);
        }
    };
}
pub(crate) use shared_struct;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A segment name unique to this process and call; removes the segment when dropped.
pub struct TestName(pub String);

impl TestName {
    pub fn new(tag: &str) -> TestName {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("shmgen-test-{tag}-{}-{n}", std::process::id());
        let _ = shmgen_runtime::segment::remove(&name);
        TestName(name)
    }

    pub fn path(&self) -> String {
        format!("/dev/shm/{}", self.0)
    }
}

impl std::ops::Deref for TestName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Drop for TestName {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.path());
    }
}

pub const ROLE_VAR: &str = "SHMGEN_TEST_ROLE";
pub const ARGS_VAR: &str = "SHMGEN_TEST_ARGS";

/// This test binary, run again to execute `entry` (a `#[test]` that dispatches on the role).
pub fn child(entry: &str, role: &str, args: &[String]) -> Command {
    let exe = std::env::current_exe().expect("current_exe");
    let mut c = Command::new(exe);
    c.args([entry, "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env(ROLE_VAR, role)
        .env(ARGS_VAR, args.join("\u{1f}"))
        .stdin(Stdio::null());
    c
}

/// The role and arguments when this process is a child.
pub fn role() -> Option<(String, Vec<String>)> {
    let role = std::env::var(ROLE_VAR).ok()?;
    let args = std::env::var(ARGS_VAR).unwrap_or_default();
    let args = if args.is_empty() {
        Vec::new()
    } else {
        args.split('\u{1f}').map(str::to_owned).collect()
    };
    Some((role, args))
}

/// Waits for `child`, killing it and panicking after `timeout`.
pub fn wait(child: &mut Child, timeout: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return st;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child {} did not finish within {timeout:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits for `child` and returns its stdout, asserting a zero exit status.
pub fn wait_ok(mut child: Child, timeout: Duration) -> String {
    let status = wait(&mut child, timeout);
    let mut out = String::new();
    if let Some(mut so) = child.stdout.take() {
        use std::io::Read;
        let _ = so.read_to_string(&mut out);
    }
    assert!(status.success(), "child failed: {status}; stdout: {out}");
    out
}

/// Polls `cond` until it holds, panicking after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Nanoseconds since the Unix epoch.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}
