#!/usr/bin/env bash
# Bounded fuzzing for CI: builds the cargo-fuzz targets and runs each one for FUZZ_SECS seconds
# (default 45) from the committed corpus. New inputs go to a scratch directory, so the run never
# changes the repository; a crash fails the script and leaves the input in fuzz/artifacts/.
#
#   fuzz/run-ci.sh                 # schema and segment targets, 45 s each
#   FUZZ_SECS=600 fuzz/run-ci.sh schema
#
# cargo-fuzz needs nightly compiler flags (-Zsanitizer): a nightly toolchain is used when rustup
# has one, otherwise stable with RUSTC_BOOTSTRAP=1. The build takes a few minutes (see README.md);
# `cargo test --manifest-path fuzz/Cargo.toml --release` is the stable-only fallback.
set -euo pipefail
cd "$(dirname "$0")"
secs="${FUZZ_SECS:-45}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(schema segment)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi
# The fuzz crate has its own target directory; a workspace-wide CARGO_TARGET_DIR would share
# (and invalidate) the workspace's artifacts with sanitizer-instrumented ones.
unset CARGO_TARGET_DIR

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for t in "${targets[@]}"; do
    case "$t" in
        schema) extra=(-dict=schema.dict -max_len=4096) ;;
        segment) extra=(-max_len=8192) ;;
        *) echo "unknown target $t" >&2; exit 2 ;;
    esac
    mkdir -p "$scratch/$t" "corpus/$t"
    start=$(date +%s)
    "${fuzz[@]}" build -O "$t"
    echo "fuzz: built $t in $(( $(date +%s) - start )) s"
    "${fuzz[@]}" run -O "$t" "$scratch/$t" "corpus/$t" -- \
        "${extra[@]}" -timeout=10 -rss_limit_mb=2048 -max_total_time="$secs" -print_final_stats=1
done
