#!/bin/sh
# The whole test suite, in the order a failure is cheapest to find.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
eval "$(sh scripts/databases.sh || echo exit 1)"
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"

step() { printf '\n== %s\n' "$*"; }

step "rustfmt"
cargo fmt --check
step "clippy (native)"
cargo clippy --all-targets --quiet -- -D warnings
step "clippy (wasm32)"
cargo clippy --all-targets --quiet --target wasm32-unknown-unknown -- -D warnings
step "cargo test (unit, engine over recorded pages, doc examples)"
cargo test --quiet
step "wasm-pack test --node (the wasm boundary)"
wasm-pack test --node -- --test wasm
step "tsc --noEmit (typings)"
node scripts/build-cjs.js
tsc -p tests/types --noEmit
step "node --test (package end to end)"
node --test --test-concurrency=1 tests/js/
