//===- NumPy.h - Writing NumPy .npy files -----------------------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// This file declares writeNpy, which saves an f32 tensor in NumPy's .npy
// format (version 1.0, C order, native little-endian '<f4'), so that tools
// can hand logits to Python for comparison with reference implementations.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_RUNTIME_NUMPY_H
#define LLM_RUNTIME_NUMPY_H

#include "llm/runtime/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace llm {
namespace rt {

/// Returns the .npy header (magic, version, length, padded dictionary) of a
/// C-order f32 array of shape \p shape.
std::string getNpyHeader(const std::vector<int64_t> &shape);

/// Writes \p data, a C-order f32 array of shape \p shape, to \p path as a
/// .npy file. The write is atomic (temporary file, fsync, rename): on
/// failure nothing new appears at \p path and an existing file stays whole.
/// Errors have code IO and start with the path.
Status writeNpy(const std::string &path, const float *data,
                const std::vector<int64_t> &shape);

} // namespace rt
} // namespace llm

#endif // LLM_RUNTIME_NUMPY_H
