#!/bin/sh
# Installs what building and testing need, and skips each step that is already done:
# the wasm32 target, wasm-bindgen-cli at exactly the version in Cargo.lock, wasm-pack,
# the npm packages, and a fresh build of the wasm core.
set -eu
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf 'setup: %s\n' "$*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

bindgen_version=$(sed -n '/^name = "wasm-bindgen"$/{n;s/^version = "\(.*\)"$/\1/p;}' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $bindgen_version"; then
  say "installing wasm-bindgen-cli $bindgen_version (a few minutes, once)"
  cargo install --force wasm-bindgen-cli --version "$bindgen_version"
fi

if ! command -v wasm-pack >/dev/null 2>&1; then
  say "installing wasm-pack (a couple of minutes, once)"
  cargo install wasm-pack
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund
fi

wasm=js/wasm/keycrm_stock_sync_bg.wasm
if [ ! -f "$wasm" ] || [ -n "$(find src Cargo.toml Cargo.lock -newer "$wasm" | head -n 1)" ]; then
  sh scripts/build.sh
fi
