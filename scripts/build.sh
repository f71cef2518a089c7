#!/bin/sh
# Builds the wasm core into js/wasm/: one .wasm, shared by the Node and Workers entries.
set -eu
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
wasm-pack --quiet build --release --target web --no-pack \
  --out-dir js/wasm --out-name keycrm_stock_sync
rm -f js/wasm/.gitignore
# The CommonJS copy of the ES modules and typings, for require() on Node < 20.19.
node scripts/build-cjs.js
