#!/usr/bin/env bash
# The main job: build schemas/metrics.toml into Rust, Python and C (./generated), show the layout,
# then run the metrics demo: a Rust monitor with two Python and two Rust worker processes sharing
# one typed segment.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release -p shmgen-cli -p metrics-demo
target/release/shmgen build schemas/metrics.toml --out-dir generated
target/release/shmgen check schemas/metrics.toml
SHMGEN_GENERATED="$PWD/generated" target/release/metrics-demo "$@"
