#!/usr/bin/env bash
# Runs the Rust runtime's tests as aarch64 binaries on an x86_64 Linux machine, under qemu-user
# (binfmt_misc, so the tests' child processes run as aarch64 too), plus clippy for aarch64 and
# the generated-code crate (whose const asserts make rustc confirm every generated layout,
# pthread_mutex_t's 48 bytes included, for aarch64).
#
#   scripts/test-aarch64.sh        # needs root once: apt packages, binfmt_misc registration
#
# What it cannot show: weak-memory bugs (qemu's TCG runs aarch64 code on the x86_64 host's
# stronger ordering; the Python side of the fences is run by the SHMGEN_ASSUME_WEAK_ORDERING
# hook in python/tests/test_weak_ordering.py), and robust mutexes after owner death (qemu-user
# does not implement set_robust_list, so the kernel never marks a dead holder's mutex: that
# one test is skipped, and so is the chaos soak, which kills lock holders all the time).
# The cross-language ring tests pair the aarch64 Rust processes with this machine's
# (x86_64) Python: both sides use only atomics and futexes there, which are the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
TARGET=aarch64-unknown-linux-gnu

if ! command -v aarch64-linux-gnu-gcc >/dev/null || ! [ -x /usr/bin/qemu-aarch64-static ]; then
    apt-get install -y -q gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static
fi
rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET"
if ! [ -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
if ! [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    cat /usr/lib/binfmt.d/qemu-aarch64.conf > /proc/sys/fs/binfmt_misc/register
fi

export CARGO_TARGET_DIR="$PWD/target/aarch64"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
if [ -x target/venv/bin/python ]; then
    export SHMGEN_PYTHON="$PWD/target/venv/bin/python"
fi

echo "== cargo clippy (aarch64)"
cargo clippy --target "$TARGET" --workspace --all-targets --quiet -- -D warnings
echo "== shmgen-runtime tests (aarch64, qemu-user)"
cargo test --release --target "$TARGET" -p shmgen-runtime --lib --test segments --test hostile \
    --test startup_crash --test ring
cargo test --release --target "$TARGET" -p shmgen-runtime --test processes -- \
    --skip sigkilled_holder_gives_owner_died_and_the_lock_keeps_working
echo "== generated code (aarch64: rustc confirms every layout)"
cargo test --release --target "$TARGET" -p shmgen-tests
