//===- DTypeConversion.cpp - f16/bf16 <-> f32 conversions -----------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// Bit-level conversions; no reliance on the host's half-precision support,
// so the results are the same with every compiler and CPU.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/DTypeConversion.h"

#include <cstring>

using namespace llm::rt;

static float floatFromBits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

static uint32_t bitsFromFloat(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

float llm::rt::convertF16ToF32(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  uint32_t exponent = (bits >> 10) & 0x1fu;
  uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0x1f) // Infinity or NaN; the payload moves up unchanged.
    return floatFromBits(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0)
    return floatFromBits(sign | ((exponent + 127 - 15) << 23) |
                         (mantissa << 13));
  if (mantissa == 0)
    return floatFromBits(sign);
  // Subnormal: mantissa * 2^-24. Normalize so that bit 10 is the implicit one.
  int32_t unbiased = -14;
  while (!(mantissa & 0x400u)) {
    mantissa <<= 1;
    --unbiased;
  }
  mantissa &= 0x3ffu;
  return floatFromBits(sign | static_cast<uint32_t>(unbiased + 127) << 23 |
                       (mantissa << 13));
}

float llm::rt::convertBF16ToF32(uint16_t bits) {
  return floatFromBits(static_cast<uint32_t>(bits) << 16);
}

uint16_t llm::rt::convertF32ToF16(float value) {
  uint32_t x = bitsFromFloat(value);
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x > 0x7f800000u) {
    // NaN: keep the top payload bits; if none survive, set the quiet bit so
    // that the result is not an infinity.
    uint16_t payload = static_cast<uint16_t>((x >> 13) & 0x3ffu);
    return sign | 0x7c00u | (payload ? payload : 0x200u);
  }
  // 65520 (0x477ff000) is halfway between the largest f16, 65504, and 2^16;
  // the tie goes to the even neighbour, which is infinity.
  if (x >= 0x477ff000u)
    return sign | 0x7c00u;
  uint32_t exponent = x >> 23;
  if (exponent < 113) {
    // Below 2^-14: the result is subnormal (or zero, or rounds up to the
    // smallest normal, whose encoding follows on naturally).
    uint32_t mantissa = (x & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - exponent; // value / 2^-24 = mantissa >> shift
    if (shift > 24)
      return sign;
    uint32_t quotient = mantissa >> shift;
    uint32_t remainder = mantissa & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (remainder > half || (remainder == half && (quotient & 1)))
      ++quotient;
    return sign | static_cast<uint16_t>(quotient);
  }
  uint32_t result = ((exponent - 127 + 15) << 10) | ((x >> 13) & 0x3ffu);
  uint32_t remainder = x & 0x1fffu;
  if (remainder > 0x1000u || (remainder == 0x1000u && (result & 1)))
    ++result; // A carry into the exponent is the correct rounding.
  return sign | static_cast<uint16_t>(result);
}

uint16_t llm::rt::convertF32ToBF16(float value) {
  uint32_t x = bitsFromFloat(value);
  if ((x & 0x7fffffffu) > 0x7f800000u) {
    // NaN: truncate; if that would clear the whole payload (and so make an
    // infinity), set the quiet bit instead.
    uint16_t truncated = static_cast<uint16_t>(x >> 16);
    return (truncated & 0x7fu) ? truncated
                               : static_cast<uint16_t>(truncated | 0x40u);
  }
  uint32_t roundingBias = 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>((x + roundingBias) >> 16);
}

bool llm::rt::isConvertibleToF32(DType dtype) {
  return dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16;
}

Status llm::rt::convertToF32(DType dtype, const uint8_t *src, uint64_t count,
                             float *dst) {
  switch (dtype) {
  case DType::F32:
    for (uint64_t i = 0; i < count; ++i) {
      const uint8_t *p = src + 4 * i;
      dst[i] = floatFromBits(static_cast<uint32_t>(p[0]) |
                             static_cast<uint32_t>(p[1]) << 8 |
                             static_cast<uint32_t>(p[2]) << 16 |
                             static_cast<uint32_t>(p[3]) << 24);
    }
    return Status::success();
  case DType::F16:
    for (uint64_t i = 0; i < count; ++i)
      dst[i] = convertF16ToF32(static_cast<uint16_t>(
          src[2 * i] | static_cast<uint16_t>(src[2 * i + 1]) << 8));
    return Status::success();
  case DType::BF16:
    for (uint64_t i = 0; i < count; ++i)
      dst[i] = convertBF16ToF32(static_cast<uint16_t>(
          src[2 * i] | static_cast<uint16_t>(src[2 * i + 1]) << 8));
    return Status::success();
  default:
    return Status::error(ErrorCode::InvalidArgument,
                         std::string("cannot convert ") + getDTypeName(dtype) +
                             " to F32");
  }
}
