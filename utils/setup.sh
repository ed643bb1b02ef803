#!/usr/bin/env bash
#===- utils/setup.sh - install what llm-opt needs (Debian packages) -------===#
#
# Installs the Debian packages that are missing, then the pinned npm
# packages of utils/ort/: ONNX Runtime (onnxruntime-node, the tests' numerics
# and speed peer for ONNX models) and gpt-3-encoder (the reference GPT-2
# tokenizer). Quiet and quick when everything is already there. Needs root
# (or sudo) only when a Debian package has to be installed.
#
#===----------------------------------------------------------------------===#
set -euo pipefail

PACKAGES=(
  # Toolchain: LLVM/MLIR 22 with libMLIR.so, clang, lld, ninja, cmake.
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools clang-22 lld-22
  libomp-22-dev
  # The sanitizer runtimes of the ASan+UBSan test build (make test); clang
  # does not pull them in.
  libclang-rt-22-dev
  ninja-build cmake make
  # Tests: GoogleTest, lit's helpers, the PyTorch numerics reference.
  libgtest-dev diffutils python3 python3-numpy python3-torch
  # Benchmarks: OpenBLAS, which bench/ puts under PyTorch in place of the
  # reference BLAS Debian's torch links, so that PyTorch is a fair peer.
  libopenblas0-openmp
  # Runtime: JSON for safetensors headers, manifests and configs; ICU for
  # the tokenizers' Unicode classes (GPT-2's \p{L}/\p{N}, BERT's P* and C*),
  # case mapping and normalization.
  nlohmann-json3-dev libicu-dev
  # ONNX import: the ONNX protobuf library, its backend conformance cases,
  # and the exporter the model tests use.
  libonnx-dev libprotobuf-dev libonnx-testdata python3-onnx
  # The bundled model's corpus (examples/kjv-gpt/train.sh): the King James
  # Bible, public domain.
  bible-kjv
)
# The npm packages (utils/ort/setup.sh) need node and npm, from Debian
# unless the machine has them already (a NodeSource node bundles its npm,
# which Debian's npm package conflicts with).
command -v node >/dev/null || PACKAGES+=(nodejs)
command -v npm >/dev/null || PACKAGES+=(npm)
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
      grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exec "$HERE/ort/setup.sh"
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || {
    echo "setup: error: need root to install: ${missing[*]}" >&2
    exit 1
  }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
exec "$HERE/ort/setup.sh"
