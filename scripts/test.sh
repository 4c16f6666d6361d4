#!/usr/bin/env bash
# Runs every test shmgen has: formatting, clippy, the Rust workspace tests (unit, snapshot,
# cross-process, three-compilers-agree), and the Python runtime's tests.
# Usage: scripts/test.sh            (the README's test command; .ci/run calls it)
set -euo pipefail
cd "$(dirname "$0")/.."
export INSTA_UPDATE=no
export CARGO_TERM_COLOR=never

# Python: a venv under target/ with the test tools (numpy is optional for users, used in tests).
VENV=target/venv
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import pytest, numpy" 2>/dev/null; then
    "$VENV/bin/pip" install --quiet --disable-pip-version-check pytest numpy mypy
fi
export SHMGEN_PYTHON="$PWD/$VENV/bin/python"
export PATH="$PWD/$VENV/bin:$PATH"

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test --workspace --no-fail-fast 2>&1 | tee target/cargo-test.log
echo "== fuzz targets over the committed corpus (bounded; stable toolchain)"
cargo test --release --manifest-path fuzz/Cargo.toml 2>&1 | tee -a target/cargo-test.log
if [ -d python/tests ]; then
    echo "== pytest"
    (cd python && PYTHONPATH="$PWD/src" "../$VENV/bin/python" -m pytest -q tests)
fi
echo "== benchmark smoke test (quick mode; ratios printed, no thresholds asserted)"
cargo run --release --quiet -p shmgen-bench -- --quick --no-iceoryx2 --out target/BENCHMARKS.quick.md
