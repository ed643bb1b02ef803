//===- DTypeConversion.h - f16/bf16 <-> f32 conversions ---------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// This file declares the scalar conversions between IEEE binary16 (f16),
// bfloat16 (bf16) and IEEE binary32 (f32) that the runtime uses to bind half-
// precision checkpoints to models compiled for f32, and a bulk conversion
// from raw little-endian checkpoint bytes.
//
// f16 -> f32 and bf16 -> f32 are exact (every value, including subnormals,
// infinities and NaN payloads, is represented exactly in f32). f32 -> f16 and
// f32 -> bf16 round to nearest, ties to even; values too large become
// infinities, and NaNs stay NaNs with their top payload bits. So
// bf16 -> f32 -> bf16 and f16 -> f32 -> f16 give back the original bits for
// all 65536 patterns.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_RUNTIME_DTYPECONVERSION_H
#define LLM_RUNTIME_DTYPECONVERSION_H

#include "llm/runtime/SafeTensors.h"
#include "llm/runtime/Status.h"

#include <cstdint>

namespace llm {
namespace rt {

/// Returns the f32 value of the f16 bit pattern \p bits (exact).
float convertF16ToF32(uint16_t bits);

/// Returns the f32 value of the bf16 bit pattern \p bits (exact).
float convertBF16ToF32(uint16_t bits);

/// Returns the f16 bit pattern nearest to \p value (ties to even).
uint16_t convertF32ToF16(float value);

/// Returns the bf16 bit pattern nearest to \p value (ties to even).
uint16_t convertF32ToBF16(float value);

/// Returns true if values of \p dtype can be converted to f32 by
/// convertToF32() (F32, F16 and BF16).
bool isConvertibleToF32(DType dtype);

/// Converts \p count elements of \p dtype, stored little-endian at \p src
/// (any alignment), to f32 at \p dst. Fails for a dtype that
/// isConvertibleToF32() rejects.
Status convertToF32(DType dtype, const uint8_t *src, uint64_t count,
                    float *dst);

} // namespace rt
} // namespace llm

#endif // LLM_RUNTIME_DTYPECONVERSION_H
