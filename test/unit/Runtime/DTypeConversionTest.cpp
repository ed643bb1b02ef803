//===- DTypeConversionTest.cpp - Tests of f16/bf16 <-> f32 ----------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// Every one of the 65536 f16 and bf16 bit patterns converts exactly to f32
// (checked against an independent ldexp formulation) and back to the same
// bits; rounding of f32 values that are not representable goes to nearest,
// ties to even.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/DTypeConversion.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <limits>

using namespace llm::rt;

namespace {

uint32_t bitsOf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  return bits;
}

float floatOf(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

/// The value of an f16 pattern, from the definition of binary16.
double referenceF16(uint16_t bits) {
  int sign = bits >> 15;
  int exponent = (bits >> 10) & 0x1f;
  int mantissa = bits & 0x3ff;
  double magnitude;
  if (exponent == 0)
    magnitude = std::ldexp(mantissa, -24);
  else if (exponent == 31)
    magnitude = mantissa ? std::numeric_limits<double>::quiet_NaN()
                         : std::numeric_limits<double>::infinity();
  else
    magnitude = std::ldexp(1024 + mantissa, exponent - 25);
  return sign ? -magnitude : magnitude;
}

TEST(DTypeConversionTest, EveryF16PatternIsExactAndRoundTrips) {
  for (uint32_t i = 0; i <= 0xffff; ++i) {
    uint16_t bits = static_cast<uint16_t>(i);
    float value = convertF16ToF32(bits);
    double expected = referenceF16(bits);
    if (std::isnan(expected)) {
      ASSERT_TRUE(std::isnan(value)) << std::hex << i;
      // The payload moves up unchanged, including the sign.
      ASSERT_EQ(bitsOf(value) & 0x7fffffu, (i & 0x3ffu) << 13) << std::hex << i;
      ASSERT_EQ(bitsOf(value) >> 31, i >> 15) << std::hex << i;
    } else {
      ASSERT_EQ(static_cast<double>(value), expected) << std::hex << i;
      ASSERT_EQ(std::signbit(value), (i >> 15) != 0) << std::hex << i;
    }
    ASSERT_EQ(convertF32ToF16(value), bits) << std::hex << i;
  }
}

TEST(DTypeConversionTest, EveryBF16PatternIsExactAndRoundTrips) {
  for (uint32_t i = 0; i <= 0xffff; ++i) {
    uint16_t bits = static_cast<uint16_t>(i);
    float value = convertBF16ToF32(bits);
    ASSERT_EQ(bitsOf(value), i << 16) << std::hex << i;
    ASSERT_EQ(convertF32ToBF16(value), bits) << std::hex << i;
  }
}

TEST(DTypeConversionTest, F32ToF16RoundsToNearestEven) {
  EXPECT_EQ(convertF32ToF16(65504.0f), 0x7bff);
  EXPECT_EQ(convertF32ToF16(65519.0f), 0x7bff);
  EXPECT_EQ(convertF32ToF16(65520.0f), 0x7c00); // The tie goes to infinity.
  EXPECT_EQ(convertF32ToF16(1e10f), 0x7c00);
  EXPECT_EQ(convertF32ToF16(-1e10f), 0xfc00);
  EXPECT_EQ(convertF32ToF16(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(convertF32ToF16(-0.0f), 0x8000);
  // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: down to the even 1.
  EXPECT_EQ(convertF32ToF16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  // 1 + 3 * 2^-11 lies halfway between two odd/even neighbours: up.
  EXPECT_EQ(convertF32ToF16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(
      convertF32ToF16(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)),
      0x3c01);
  // Subnormals: 2^-24 is the smallest; 2^-25 ties to zero; above it rounds up.
  EXPECT_EQ(convertF32ToF16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(convertF32ToF16(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(convertF32ToF16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(convertF32ToF16(std::ldexp(3.0f, -25)), 0x0002); // 1.5 ulp: even.
  EXPECT_EQ(convertF32ToF16(std::ldexp(1.0f, -30)), 0x0000);
  EXPECT_EQ(convertF32ToF16(std::numeric_limits<float>::denorm_min()), 0x0000);
  // Just below the smallest normal rounds up into it.
  EXPECT_EQ(convertF32ToF16(std::nextafter(std::ldexp(1.0f, -14), 0.0f)),
            0x0400);
  uint16_t nan = convertF32ToF16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x3ff, 0);
  // A NaN whose payload lives only in the low bits stays a NaN.
  EXPECT_TRUE(
      std::isnan(convertF16ToF32(convertF32ToF16(floatOf(0x7f800001u)))));
}

TEST(DTypeConversionTest, F32ToBF16RoundsToNearestEven) {
  EXPECT_EQ(convertF32ToBF16(1.0f), 0x3f80);
  EXPECT_EQ(convertF32ToBF16(1.0f + std::ldexp(1.0f, -8)), 0x3f80); // Tie.
  EXPECT_EQ(convertF32ToBF16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_EQ(
      convertF32ToBF16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)),
      0x3f81);
  EXPECT_EQ(convertF32ToBF16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(convertF32ToBF16(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_TRUE(
      std::isnan(convertBF16ToF32(convertF32ToBF16(floatOf(0x7f800001u)))));
}

TEST(DTypeConversionTest, BulkConversionReadsLittleEndianAtAnyAlignment) {
  // One byte of padding so that the data is misaligned.
  uint8_t f16[1 + 6] = {0, 0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00};
  float out[3];
  ASSERT_TRUE(convertToF32(DType::F16, f16 + 1, 3, out).isOk());
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
  EXPECT_EQ(out[2], std::ldexp(1.0f, -24));

  uint8_t bf16[1 + 4] = {0, 0x80, 0x3f, 0x49, 0x40};
  ASSERT_TRUE(convertToF32(DType::BF16, bf16 + 1, 2, out).isOk());
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(bitsOf(out[1]), 0x40490000u);

  uint8_t f32[1 + 4] = {0, 0x00, 0x00, 0x80, 0xbf};
  ASSERT_TRUE(convertToF32(DType::F32, f32 + 1, 1, out).isOk());
  EXPECT_EQ(out[0], -1.0f);

  EXPECT_TRUE(isConvertibleToF32(DType::BF16));
  EXPECT_FALSE(isConvertibleToF32(DType::I64));
  Status s = convertToF32(DType::I64, f32, 0, out);
  ASSERT_TRUE(s.isError());
  EXPECT_EQ(s.message(), "cannot convert I64 to F32");
}

} // namespace
