//===- SafeTensorsTest.cpp - Tests for the safetensors reader/writer ------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// Unit tests for llm::rt::SafeTensorsFile, SafeTensorsModel and
// writeSafeTensors: round trips, sharded checkpoints, one test per class of
// malformed input, the atomic writer's failure behaviour, and a random-input
// robustness test. Every test works in its own temporary folder.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/SafeTensors.h"

#include "gtest/gtest.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

using namespace llm::rt;
namespace fs = std::filesystem;

namespace {

/// Returns the 8-byte little-endian encoding of \p n.
std::string le64(uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i)
    out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

/// Returns a safetensors file image: length prefix, \p header, \p data.
std::string rawFile(const std::string &header, const std::string &data = "") {
  return le64(header.size()) + header + data;
}

/// Returns \p n bytes of deterministic filler.
std::string bytes(size_t n, uint8_t seed = 1) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i)
    out[i] = static_cast<char>(static_cast<uint8_t>(seed + i * 7));
  return out;
}

class SafeTensorsTest : public ::testing::Test {
protected:
  void SetUp() override {
    const char *tmp = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(tmp && *tmp ? tmp : "/tmp") + "/llmrt-test-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    ASSERT_NE(::mkdtemp(buf.data()), nullptr) << std::strerror(errno);
    dir = buf.data();
  }

  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  std::string pathOf(const std::string &name) const { return dir + "/" + name; }

  /// Writes \p contents to the file \p name in the test folder.
  std::string writeFile(const std::string &name, const std::string &contents) {
    std::string path = pathOf(name);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.close();
    EXPECT_TRUE(out.good()) << "cannot write " << path;
    return path;
  }

  static std::string readFile(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  /// Returns the names in folder \p folder.
  static std::set<std::string> listFolder(const std::string &folder) {
    std::set<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(folder, ec), end; !ec && it != end;
         it.increment(ec))
      names.insert(it->path().filename().string());
    return names;
  }

  /// Writes \p contents as a file, opens it, and expects an error whose
  /// message names the file and contains each of \p parts.
  void expectOpenError(const std::string &contents,
                       const std::vector<std::string> &parts) {
    std::string path = writeFile("bad.safetensors", contents);
    Expected<std::unique_ptr<SafeTensorsFile>> file =
        SafeTensorsFile::open(path);
    ASSERT_FALSE(file) << "unexpectedly loaded";
    const std::string &msg = file.message();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    for (const std::string &part : parts)
      EXPECT_NE(msg.find(part), std::string::npos)
          << "message lacks \"" << part << "\": " << msg;
  }

  /// Same as expectOpenError, with a header and a data section.
  void expectHeaderError(const std::string &header, const std::string &data,
                         const std::vector<std::string> &parts) {
    expectOpenError(rawFile(header, data), parts);
  }

  /// Writes a valid two-tensor file and returns its bytes.
  std::string validFileBytes() {
    std::vector<float> a = {1, 2, 3, 4, 5, 6};
    std::vector<int64_t> b = {7, 8};
    std::vector<TensorToWrite> tensors = {
        {"a", DType::F32, {2, 3}, a.data(), a.size() * 4},
        {"b", DType::I64, {2}, b.data(), b.size() * 8},
        {"z", DType::F16, {0, 4}, nullptr, 0},
    };
    std::string path = pathOf("valid.safetensors");
    Status s = writeSafeTensors(path, tensors, {{"format", "pt"}});
    EXPECT_TRUE(s.isOk()) << s.message();
    return readFile(path);
  }

  std::string dir;
};

//===----------------------------------------------------------------------===//
// DType helpers
//===----------------------------------------------------------------------===//

TEST(DTypeTest, NamesAndSizes) {
  struct Case {
    const char *name;
    DType dtype;
    uint64_t size;
  } cases[] = {
      {"BOOL", DType::Bool, 1},      {"U8", DType::U8, 1},
      {"I8", DType::I8, 1},          {"F8_E5M2", DType::F8E5M2, 1},
      {"F8_E4M3", DType::F8E4M3, 1}, {"F8_E8M0", DType::F8E8M0, 1},
      {"I16", DType::I16, 2},        {"U16", DType::U16, 2},
      {"F16", DType::F16, 2},        {"BF16", DType::BF16, 2},
      {"I32", DType::I32, 4},        {"U32", DType::U32, 4},
      {"F32", DType::F32, 4},        {"I64", DType::I64, 8},
      {"U64", DType::U64, 8},        {"F64", DType::F64, 8},
  };
  for (const Case &c : cases) {
    std::optional<DType> parsed = parseDType(c.name);
    ASSERT_TRUE(parsed.has_value()) << c.name;
    EXPECT_EQ(*parsed, c.dtype);
    EXPECT_STREQ(getDTypeName(c.dtype), c.name);
    EXPECT_EQ(getDTypeSize(c.dtype), c.size) << c.name;
  }
  EXPECT_FALSE(parseDType("f32").has_value());
  EXPECT_FALSE(parseDType("").has_value());
  EXPECT_FALSE(parseDType("F32 ").has_value());
}

TEST(StatusTest, Basics) {
  Status ok = Status::success();
  EXPECT_TRUE(ok.isOk());
  EXPECT_FALSE(ok.isError());
  Status err = Status::error("boom");
  EXPECT_TRUE(err.isError());
  EXPECT_EQ(err.message(), "boom");
  EXPECT_TRUE(Status::error("").isError());

  Expected<int> value(3);
  ASSERT_TRUE(value);
  EXPECT_EQ(*value, 3);
  Expected<int> failed(Status::error("bad"));
  EXPECT_FALSE(failed);
  EXPECT_EQ(failed.message(), "bad");
  Expected<int> misuse(Status::success());
  EXPECT_FALSE(misuse);
}

//===----------------------------------------------------------------------===//
// Round trips
//===----------------------------------------------------------------------===//

TEST_F(SafeTensorsTest, RoundTripManyDTypes) {
  struct Spec {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
  };
  std::vector<Spec> specs = {
      {"f32", DType::F32, {2, 3}},    {"bf16", DType::BF16, {4}},
      {"scalar", DType::I64, {}},     {"empty_u8", DType::U8, {0}},
      {"f16", DType::F16, {3, 1, 2}}, {"empty3d", DType::F16, {3, 0, 2}},
      {"bool", DType::Bool, {5}},     {"f64", DType::F64, {1, 1, 1}},
      {"i8", DType::I8, {3}},         {"i16", DType::I16, {2, 2}},
      {"i32", DType::I32, {1}},       {"u16", DType::U16, {3}},
      {"u32", DType::U32, {2}},       {"u64", DType::U64, {1, 2}},
      {"fp8", DType::F8E4M3, {7}},    {"fp8b", DType::F8E5M2, {1}},
      {"scale", DType::F8E8M0, {2}},  {"empty_end", DType::F32, {0}},
  };
  std::vector<std::string> payloads;
  std::vector<TensorToWrite> tensors;
  for (size_t i = 0; i < specs.size(); ++i) {
    uint64_t n = getDTypeSize(specs[i].dtype);
    for (int64_t d : specs[i].shape)
      n *= static_cast<uint64_t>(d);
    payloads.push_back(bytes(n, static_cast<uint8_t>(i * 13 + 1)));
  }
  for (size_t i = 0; i < specs.size(); ++i)
    tensors.push_back({specs[i].name, specs[i].dtype, specs[i].shape,
                       payloads[i].data(), payloads[i].size()});

  std::string path = pathOf("model.safetensors");
  Status s = writeSafeTensors(path, tensors);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(listFolder(dir), std::set<std::string>{"model.safetensors"});

  Expected<std::unique_ptr<SafeTensorsFile>> file = SafeTensorsFile::open(path);
  ASSERT_TRUE(file) << file.message();
  const SafeTensorsFile &f = **file;
  EXPECT_EQ(f.getDataSectionOffset() % 8, 0u);
  EXPECT_EQ(f.getFileSize(), readFile(path).size());
  EXPECT_TRUE(f.getMetadata().empty());
  EXPECT_EQ(readFile(path).find("__metadata__"), std::string::npos);
  ASSERT_EQ(f.getTensors().size(), specs.size());

  const uint8_t *base = f.getTensors()[0].data - f.getTensors()[0].fileOffset;
  uint64_t prevEnd = f.getDataSectionOffset();
  for (const TensorView &view : f.getTensors()) {
    // File order: contiguous, increasing offsets.
    EXPECT_EQ(view.fileOffset, prevEnd) << view.name;
    prevEnd = view.fileOffset + view.byteSize;
    EXPECT_EQ(view.data, base + view.fileOffset) << view.name;
  }
  EXPECT_EQ(prevEnd, f.getFileSize());

  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorView *view = f.lookup(specs[i].name);
    ASSERT_NE(view, nullptr) << specs[i].name;
    EXPECT_EQ(view->name, specs[i].name);
    EXPECT_EQ(view->dtype, specs[i].dtype);
    EXPECT_EQ(view->shape, specs[i].shape);
    EXPECT_EQ(view->byteSize, payloads[i].size());
    EXPECT_EQ(view->getNumElements() * getDTypeSize(view->dtype),
              view->byteSize);
    EXPECT_EQ(
        std::string(reinterpret_cast<const char *>(view->data), view->byteSize),
        payloads[i])
        << specs[i].name;
  }
  const TensorView *scalar = f.lookup("scalar");
  ASSERT_NE(scalar, nullptr);
  EXPECT_TRUE(scalar->shape.empty());
  EXPECT_EQ(scalar->getNumElements(), 1u);
  EXPECT_EQ(scalar->byteSize, 8u);
  EXPECT_EQ(f.lookup("missing"), nullptr);
}

TEST_F(SafeTensorsTest, RoundTripMetadata) {
  float x = 1.5f;
  std::map<std::string, std::string> meta = {
      {"format", "pt"},
      {"quote\"and\\slash", "line\nbreak\ttab"},
      {"unicode \xc3\xa9\xe2\x82\xac", "\xf0\x9f\x98\x80"},
      {"", "empty key"},
  };
  std::string path = pathOf("m.safetensors");
  Status s = writeSafeTensors(path, {{"x", DType::F32, {}, &x, 4}}, meta);
  ASSERT_TRUE(s.isOk()) << s.message();
  Expected<std::unique_ptr<SafeTensorsFile>> file = SafeTensorsFile::open(path);
  ASSERT_TRUE(file) << file.message();
  EXPECT_EQ((*file)->getMetadata(), meta);
  float y;
  std::memcpy(&y, (*file)->lookup("x")->data, 4);
  EXPECT_EQ(y, 1.5f);
}

TEST_F(SafeTensorsTest, EmptyFile) {
  std::string path = pathOf("e.safetensors");
  Status s = writeSafeTensors(path, {});
  ASSERT_TRUE(s.isOk()) << s.message();
  Expected<std::unique_ptr<SafeTensorsFile>> file = SafeTensorsFile::open(path);
  ASSERT_TRUE(file) << file.message();
  EXPECT_TRUE((*file)->getTensors().empty());
}

TEST_F(SafeTensorsTest, HandWrittenHeaderWithPaddingAndOrder) {
  // Header keys out of data order, extra spaces, trailing space padding and
  // only zero-sized tensors at the end.
  std::string header = "{ \"b\" : {\"dtype\":\"U8\",\"shape\":[2],"
                       "\"data_offsets\":[1,3]},\n"
                       "\"a\":{\"dtype\":\"U8\",\"shape\":[1],"
                       "\"data_offsets\":[0,1]},"
                       "\"z1\":{\"dtype\":\"F32\",\"shape\":[0,5],"
                       "\"data_offsets\":[3,3]},"
                       "\"z0\":{\"dtype\":\"F32\",\"shape\":[5,0],"
                       "\"data_offsets\":[3,3]}}        ";
  std::string path = writeFile("h.safetensors", rawFile(header, "xyz"));
  Expected<std::unique_ptr<SafeTensorsFile>> file = SafeTensorsFile::open(path);
  ASSERT_TRUE(file) << file.message();
  const std::vector<TensorView> &t = (*file)->getTensors();
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[0].name, "a");
  EXPECT_EQ(t[1].name, "b");
  EXPECT_EQ(t[2].name, "z0");
  EXPECT_EQ(t[3].name, "z1");
  EXPECT_EQ(std::string(reinterpret_cast<const char *>(t[1].data), 2), "yz");
  EXPECT_EQ(t[1].fileOffset, 8 + header.size() + 1);
}

TEST_F(SafeTensorsTest, EmptyHeaderObject) {
  std::string path = writeFile("e.safetensors", rawFile("{}"));
  Expected<std::unique_ptr<SafeTensorsFile>> file = SafeTensorsFile::open(path);
  ASSERT_TRUE(file) << file.message();
  EXPECT_TRUE((*file)->getTensors().empty());
}

TEST_F(SafeTensorsTest, ExtraEntryKeysAreIgnored) {
  std::string path = writeFile(
      "x.safetensors",
      rawFile("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],"
              "\"extra\":[1,2]}}",
              "q"));
  Expected<std::unique_ptr<SafeTensorsFile>> file = SafeTensorsFile::open(path);
  ASSERT_TRUE(file) << file.message();
}

//===----------------------------------------------------------------------===//
// Malformed files
//===----------------------------------------------------------------------===//

TEST_F(SafeTensorsTest, FileShorterThan8Bytes) {
  expectOpenError("", {"0 bytes", "too short"});
  expectOpenError("1234567", {"7 bytes", "too short"});
}

TEST_F(SafeTensorsTest, MissingFile) {
  std::string path = pathOf("nope.safetensors");
  Expected<std::unique_ptr<SafeTensorsFile>> file = SafeTensorsFile::open(path);
  ASSERT_FALSE(file);
  EXPECT_NE(file.message().find(path), std::string::npos);
  EXPECT_NE(file.message().find("cannot open"), std::string::npos);
}

TEST_F(SafeTensorsTest, NotARegularFile) {
  Expected<std::unique_ptr<SafeTensorsFile>> file = SafeTensorsFile::open(dir);
  ASSERT_FALSE(file);
  EXPECT_NE(file.message().find("not a regular file"), std::string::npos)
      << file.message();
}

TEST_F(SafeTensorsTest, HeaderLengthOverLimit) {
  expectOpenError(le64(100'000'001) + "{}", {"100000001", "limit"});
}

TEST_F(SafeTensorsTest, HeaderLengthOverFileSize) {
  expectOpenError(le64(3) + "{}", {"header length 3", "exceeds the file size"});
  expectOpenError(le64(1000) + std::string(100, ' '),
                  {"header length 1000", "exceeds the file size"});
}

TEST_F(SafeTensorsTest, HeaderLengthMaxU64) {
  expectOpenError(le64(~uint64_t(0)) + "{}", {"18446744073709551615"});
}

TEST_F(SafeTensorsTest, HeaderNotUtf8) {
  expectHeaderError("{\"a\xff\":1}", "",
                    {"not valid UTF-8", "header offset 3"});
  // Overlong encoding and an encoded surrogate.
  expectHeaderError("{\"\xc0\xaf\":1}", "", {"not valid UTF-8"});
  expectHeaderError("{\"\xed\xa0\x80\":1}", "", {"not valid UTF-8"});
  // Truncated sequence at the very end.
  expectHeaderError("{}\xe2\x82", "", {"not valid UTF-8"});
}

TEST_F(SafeTensorsTest, HeaderNotJson) {
  expectHeaderError("{\"a\":", "", {"not valid JSON"});
  expectHeaderError("not json", "", {"not valid JSON"});
  expectHeaderError("", "", {"not valid JSON"});
  expectHeaderError("{} {}", "", {"not valid JSON"});
  // nlohmann-json alone would stop at a NUL byte and accept this.
  expectHeaderError(std::string("{}\0\0\0\0", 6), "",
                    {"not valid JSON", "NUL byte at offset 2"});
  expectHeaderError(std::string("{}\0junk", 7), "", {"NUL byte"});
}

TEST_F(SafeTensorsTest, HeaderNotObject) {
  expectHeaderError("[1, 2]", "", {"not a JSON object", "array"});
  expectHeaderError("\"str\"", "", {"not a JSON object", "string"});
  expectHeaderError("42      ", "", {"not a JSON object", "number"});
  expectHeaderError("null", "", {"not a JSON object"});
}

TEST_F(SafeTensorsTest, DuplicateKeys) {
  std::string entry = "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}";
  expectHeaderError("{\"a\":" + entry + ",\"a\":" + entry + "}", "x",
                    {"duplicate key 'a'"});
  expectHeaderError("{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],"
                    "\"data_offsets\":[0,1]}}",
                    "x", {"duplicate key 'dtype'"});
  expectHeaderError("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", "",
                    {"duplicate key 'k'"});
  // The same key in sibling objects is fine.
  std::string ok = "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":"
                   "[0,1]},\"b\":{\"dtype\":\"U8\",\"shape\":[1],"
                   "\"data_offsets\":[1,2]}}";
  std::string path = writeFile("ok.safetensors", rawFile(ok, "xy"));
  Expected<std::unique_ptr<SafeTensorsFile>> file = SafeTensorsFile::open(path);
  EXPECT_TRUE(file) << file.message();
}

TEST_F(SafeTensorsTest, MissingFields) {
  expectHeaderError("{\"t\":{\"shape\":[1],\"data_offsets\":[0,1]}}", "x",
                    {"tensor 't'", "missing \"dtype\""});
  expectHeaderError("{\"t\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", "x",
                    {"tensor 't'", "missing \"shape\""});
  expectHeaderError("{\"t\":{\"dtype\":\"U8\",\"shape\":[1]}}", "x",
                    {"tensor 't'", "missing \"data_offsets\""});
}

TEST_F(SafeTensorsTest, WrongJsonTypes) {
  auto entry = [](const std::string &dtype, const std::string &shape,
                  const std::string &offsets) {
    return "{\"t\":{\"dtype\":" + dtype + ",\"shape\":" + shape +
           ",\"data_offsets\":" + offsets + "}}";
  };
  expectHeaderError("{\"t\":[1]}", "", {"tensor 't'", "must be a JSON object"});
  expectHeaderError("{\"t\":\"x\"}", "", {"tensor 't'", "string"});
  expectHeaderError(entry("5", "[1]", "[0,1]"), "x",
                    {"tensor 't'", "\"dtype\" must be a string"});
  expectHeaderError(entry("\"U8\"", "\"1\"", "[0,1]"), "x",
                    {"tensor 't'", "\"shape\" must be an array"});
  expectHeaderError(entry("\"U8\"", "[1.0]", "[0,1]"), "x",
                    {"tensor 't'", "must be an integer"});
  expectHeaderError(entry("\"U8\"", "[true]", "[0,1]"), "x",
                    {"tensor 't'", "must be an integer"});
  expectHeaderError(entry("\"U8\"", "[[1]]", "[0,1]"), "x",
                    {"tensor 't'", "must be an integer"});
  expectHeaderError(entry("\"U8\"", "[1]", "{\"a\":0}"), "x",
                    {"tensor 't'", "array of two integers"});
  expectHeaderError(entry("\"U8\"", "[1]", "[0,1,2]"), "x",
                    {"tensor 't'", "array of 3 elements"});
  expectHeaderError(entry("\"U8\"", "[1]", "[0]"), "x",
                    {"tensor 't'", "array of 1 elements"});
  expectHeaderError(entry("\"U8\"", "[1]", "[0,1.5]"), "x",
                    {"tensor 't'", "non-negative integers"});
  expectHeaderError(entry("\"U8\"", "[1]", "[0,\"1\"]"), "x",
                    {"tensor 't'", "non-negative integers"});
  expectHeaderError(entry("\"U8\"", "[1]", "[0,1e30]"), "x",
                    {"tensor 't'", "non-negative integers"});
  expectHeaderError("{\"__metadata__\":[\"x\"]}", "",
                    {"\"__metadata__\" must be a JSON object"});
  expectHeaderError("{\"__metadata__\":{\"k\":1}}", "",
                    {"\"__metadata__\" value of key 'k' must be a string"});
}

TEST_F(SafeTensorsTest, UnknownDType) {
  expectHeaderError(
      "{\"t\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}",
      "abcd", {"tensor 't'", "unknown dtype 'F33'"});
}

TEST_F(SafeTensorsTest, NegativeDimension) {
  expectHeaderError(
      "{\"t\":{\"dtype\":\"U8\",\"shape\":[2,-1],\"data_offsets\":[0,0]}}", "",
      {"tensor 't'", "negative dimension -1", "index 1"});
}

TEST_F(SafeTensorsTest, NegativeOffset) {
  expectHeaderError(
      "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[-1,0]}}", "x",
      {"tensor 't'", "negative data offset -1"});
}

TEST_F(SafeTensorsTest, DimensionTooLarge) {
  expectHeaderError("{\"t\":{\"dtype\":\"U8\",\"shape\":[18446744073709551615],"
                    "\"data_offsets\":[0,0]}}",
                    "", {"tensor 't'", "too large"});
}

TEST_F(SafeTensorsTest, ElementCountOverflow) {
  // 2^32 * 2^32 = 2^64 elements.
  expectHeaderError("{\"t\":{\"dtype\":\"U8\",\"shape\":[4294967296,"
                    "4294967296],\"data_offsets\":[0,0]}}",
                    "", {"tensor 't'", "element count", "overflows"});
  // But a zero dimension makes the count 0, whatever the other dims are.
  std::string path = writeFile(
      "zero.safetensors",
      rawFile("{\"t\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,0],"
              "\"data_offsets\":[0,0]}}"));
  Expected<std::unique_ptr<SafeTensorsFile>> file = SafeTensorsFile::open(path);
  EXPECT_TRUE(file) << file.message();
}

TEST_F(SafeTensorsTest, ByteSizeOverflow) {
  // 2^62 elements of 8 bytes = 2^65 bytes.
  expectHeaderError("{\"t\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],"
                    "\"data_offsets\":[0,0]}}",
                    "", {"tensor 't'", "byte size", "overflows"});
}

TEST_F(SafeTensorsTest, OffsetsEndBeforeBegin) {
  expectHeaderError(
      "{\"t\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,2]}}", "abcd",
      {"tensor 't'", "[4, 2]", "end before"});
}

TEST_F(SafeTensorsTest, OffsetsOutOfRange) {
  expectHeaderError(
      "{\"t\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}", "abcd",
      {"tensor 't'", "[2, 6]", "out of range", "only 4 bytes"});
  expectHeaderError("{\"t\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":["
                    "18446744073709551615,18446744073709551615]}}",
                    "", {"tensor 't'", "out of range"});
}

TEST_F(SafeTensorsTest, ShapeDisagreesWithSpan) {
  expectHeaderError(
      "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}",
      "abcd", {"tensor 't'", "needs 8 bytes", "span 4"});
}

TEST_F(SafeTensorsTest, OverlappingTensors) {
  expectHeaderError(
      "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
      "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}",
      "abcdef", {"tensor 'b'", "overlaps tensor 'a'", "[2, 6]"});
  // Two tensors at the same place.
  expectHeaderError(
      "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
      "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}",
      "ab", {"overlaps"});
  // A zero-sized tensor strictly inside another.
  expectHeaderError(
      "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
      "\"b\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[2,2]}}",
      "abcd", {"tensor 'b'", "overlaps tensor 'a'"});
}

TEST_F(SafeTensorsTest, GapBetweenTensors) {
  std::string header =
      "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
      "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[3,5]}}";
  expectHeaderError(header, "abcde",
                    {"gap of 1 bytes", "before tensor 'b'", "data offset 2",
                     "file offset " + std::to_string(8 + header.size() + 2)});
  // A gap at the start of the data section.
  expectHeaderError(
      "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]}}", "abc",
      {"gap of 1 bytes", "before tensor 'a'"});
}

TEST_F(SafeTensorsTest, TrailingBytes) {
  std::string header =
      "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}";
  expectHeaderError(header, "abcde",
                    {"3 trailing bytes", "data offset 2",
                     "file offset " + std::to_string(8 + header.size() + 2)});
  expectHeaderError("{}", "x", {"1 trailing bytes"});
}

TEST_F(SafeTensorsTest, TruncatedDataSection) {
  std::string valid = validFileBytes();
  // Drop the tail of the data section, and then all of it.
  expectOpenError(valid.substr(0, valid.size() - 3),
                  {"tensor 'b'", "out of range", "truncated"});
  uint64_t headerLen = 0;
  for (int i = 7; i >= 0; --i)
    headerLen = (headerLen << 8) | static_cast<uint8_t>(valid[i]);
  expectOpenError(valid.substr(0, 8 + headerLen),
                  {"out of range", "only 0 bytes", "truncated"});
  // Cut inside the header.
  expectOpenError(valid.substr(0, 8 + headerLen / 2),
                  {"exceeds the file size"});
}

//===----------------------------------------------------------------------===//
// Robustness
//===----------------------------------------------------------------------===//

/// Opens \p path; on success checks that every view lies inside the file and
/// reads every byte of it, on failure that the message names the file.
void checkOpensCleanly(const std::string &path) {
  Expected<std::unique_ptr<SafeTensorsFile>> file = SafeTensorsFile::open(path);
  if (!file) {
    EXPECT_NE(file.message().find(path), std::string::npos) << file.message();
    return;
  }
  const SafeTensorsFile &f = **file;
  unsigned sum = 0;
  for (const TensorView &view : f.getTensors()) {
    ASSERT_LE(view.fileOffset, f.getFileSize());
    ASSERT_LE(view.byteSize, f.getFileSize() - view.fileOffset);
    ASSERT_GE(view.fileOffset, f.getDataSectionOffset());
    for (uint64_t i = 0; i < view.byteSize; ++i)
      sum += view.data[i];
  }
  (void)sum;
}

TEST_F(SafeTensorsTest, RandomBytesNeverCrash) {
  std::mt19937_64 rng(12345);
  const std::string alphabet = "{}[]\":,0123456789-. eE\"dtypeshapedata_offsets"
                               "F32U8BOOL__metadata__";
  for (int iter = 0; iter < 2000; ++iter) {
    std::string contents;
    size_t len = rng() % 160;
    switch (iter % 3) {
    case 0: // Pure noise.
      for (size_t i = 0; i < len; ++i)
        contents += static_cast<char>(rng() & 0xff);
      break;
    case 1: { // Plausible length prefix, noise header.
      size_t hlen = rng() % 120;
      contents = le64(hlen);
      for (size_t i = 0; i < len; ++i)
        contents += static_cast<char>(rng() & 0xff);
      break;
    }
    default: { // Plausible length prefix, JSON-ish header.
      std::string header;
      for (size_t i = 0; i < len; ++i)
        header += alphabet[rng() % alphabet.size()];
      contents = rawFile(header, bytes(rng() % 16));
      break;
    }
    }
    std::string path = writeFile("rand.safetensors", contents);
    checkOpensCleanly(path);
    if (HasFatalFailure())
      return;
  }
}

TEST_F(SafeTensorsTest, RandomMutationsNeverCrash) {
  std::string valid = validFileBytes();
  ASSERT_GT(valid.size(), 16u);
  std::mt19937_64 rng(67890);
  int loaded = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    std::string mutated = valid;
    size_t pos = rng() % mutated.size();
    // Bias half of the mutations into the length prefix and header.
    if (iter % 2 == 0)
      pos = rng() % std::min<size_t>(mutated.size(), 8 + 160);
    char old = mutated[pos];
    do {
      mutated[pos] = static_cast<char>(rng() & 0xff);
    } while (mutated[pos] == old);
    std::string path = writeFile("mut.safetensors", mutated);
    Expected<std::unique_ptr<SafeTensorsFile>> file =
        SafeTensorsFile::open(path);
    if (file)
      ++loaded;
    checkOpensCleanly(path);
    if (HasFatalFailure())
      return;
  }
  // Mutations of the data section (and of padding) must still load.
  EXPECT_GT(loaded, 0);
}

TEST_F(SafeTensorsTest, DeeplyNestedHeader) {
  std::string deepArray = std::string(100000, '[') + std::string(100000, ']');
  expectHeaderError(deepArray, "", {"not a JSON object"});
  std::string deepObject;
  for (int i = 0; i < 50000; ++i)
    deepObject += "{\"a\":";
  deepObject += "1" + std::string(50000, '}');
  expectHeaderError(deepObject, "", {"tensor 'a'"});
  expectHeaderError(std::string(100000, '['), "", {"not valid JSON"});
}

//===----------------------------------------------------------------------===//
// Sharded checkpoints
//===----------------------------------------------------------------------===//

class ShardedTest : public SafeTensorsTest {
protected:
  /// Writes shard \p name holding U8 tensors named \p tensors (1 byte each).
  void writeShard(const std::string &name,
                  const std::vector<std::string> &tensors) {
    std::vector<TensorToWrite> list;
    static const uint8_t byte = 42;
    for (const std::string &t : tensors)
      list.push_back({t, DType::U8, {1}, &byte, 1});
    Status s = writeSafeTensors(pathOf(name), list);
    ASSERT_TRUE(s.isOk()) << s.message();
  }

  std::string writeIndex(const std::string &weightMap,
                         const std::string &extra = "") {
    return writeFile("model.safetensors.index.json",
                     "{" + extra + "\"weight_map\":" + weightMap + "}");
  }

  void expectModelError(const std::string &path,
                        const std::vector<std::string> &parts) {
    Expected<std::unique_ptr<SafeTensorsModel>> model =
        SafeTensorsModel::open(path);
    ASSERT_FALSE(model) << "unexpectedly loaded";
    for (const std::string &part : parts)
      EXPECT_NE(model.message().find(part), std::string::npos)
          << "message lacks \"" << part << "\": " << model.message();
  }
};

TEST_F(ShardedTest, LoadsThroughFolderAndIndex) {
  writeShard("model-00001-of-00002.safetensors", {"a", "b"});
  writeShard("model-00002-of-00002.safetensors", {"c"});
  std::string index =
      writeIndex("{\"a\":\"model-00001-of-00002.safetensors\","
                 "\"b\":\"model-00001-of-00002.safetensors\","
                 "\"c\":\"model-00002-of-00002.safetensors\"}",
                 "\"metadata\":{\"total_size\":3,\"note\":\"hi\"},");

  for (const std::string &path : {dir, index}) {
    Expected<std::unique_ptr<SafeTensorsModel>> model =
        SafeTensorsModel::open(path);
    ASSERT_TRUE(model) << model.message();
    const SafeTensorsModel &m = **model;
    EXPECT_TRUE(m.isSharded());
    ASSERT_EQ(m.getShards().size(), 2u);
    ASSERT_EQ(m.getTensors().size(), 3u);
    EXPECT_EQ(m.getTensors()[0]->name, "a");
    EXPECT_EQ(m.getTensors()[2]->name, "c");
    for (const char *name : {"a", "b", "c"}) {
      const TensorView *view = m.lookup(name);
      ASSERT_NE(view, nullptr) << name;
      EXPECT_EQ(view->data[0], 42);
    }
    EXPECT_EQ(m.lookup("d"), nullptr);
    EXPECT_EQ(m.getFileOf("c"), m.getShards()[1].get());
    EXPECT_EQ(m.getFileOf("a"), m.getShards()[0].get());
    EXPECT_EQ(m.getFileOf("d"), nullptr);
    EXPECT_EQ(m.getIndexMetadata().at("total_size"), "3");
    EXPECT_EQ(m.getIndexMetadata().at("note"), "hi");
  }
}

TEST_F(ShardedTest, SingleFileModel) {
  writeShard("model.safetensors", {"x", "y"});
  for (const std::string &path : {dir, pathOf("model.safetensors")}) {
    Expected<std::unique_ptr<SafeTensorsModel>> model =
        SafeTensorsModel::open(path);
    ASSERT_TRUE(model) << model.message();
    EXPECT_FALSE((*model)->isSharded());
    EXPECT_EQ((*model)->getShards().size(), 1u);
    EXPECT_NE((*model)->lookup("y"), nullptr);
  }
}

TEST_F(ShardedTest, EmptyFolder) { expectModelError(dir, {dir, "neither"}); }

TEST_F(ShardedTest, ShardInSubfolderAndSymlinkInside) {
  ASSERT_EQ(::mkdir(pathOf("sub").c_str(), 0755), 0);
  writeShard("sub/s1.safetensors", {"a"});
  writeShard("real.safetensors", {"b"});
  ASSERT_EQ(::symlink("real.safetensors", pathOf("link.safetensors").c_str()),
            0);
  std::string index = writeIndex("{\"a\":\"sub/s1.safetensors\","
                                 "\"b\":\"link.safetensors\"}");
  Expected<std::unique_ptr<SafeTensorsModel>> model =
      SafeTensorsModel::open(index);
  ASSERT_TRUE(model) << model.message();
  EXPECT_NE((*model)->lookup("a"), nullptr);
  EXPECT_NE((*model)->lookup("b"), nullptr);
}

TEST_F(ShardedTest, RefusesAbsoluteShardPath) {
  writeShard("s.safetensors", {"a"});
  std::string index = writeIndex("{\"a\":\"" + pathOf("s.safetensors") + "\"}");
  expectModelError(index, {index, "absolute paths are not allowed", "'a'"});
}

TEST_F(ShardedTest, RefusesDotDot) {
  ASSERT_EQ(::mkdir(pathOf("m").c_str(), 0755), 0);
  writeShard("s.safetensors", {"a"});
  std::string index =
      writeFile("m/model.safetensors.index.json",
                "{\"weight_map\":{\"a\":\"../s.safetensors\"}}");
  expectModelError(index, {"\"..\" components are not allowed"});
  index = writeFile("m/model.safetensors.index.json",
                    "{\"weight_map\":{\"a\":\"x/../../s.safetensors\"}}");
  expectModelError(index, {"\"..\" components are not allowed"});
}

TEST_F(ShardedTest, RefusesSymlinkOutside) {
  ASSERT_EQ(::mkdir(pathOf("m").c_str(), 0755), 0);
  writeShard("outside.safetensors", {"a"});
  ASSERT_EQ(::symlink(pathOf("outside.safetensors").c_str(),
                      pathOf("m/s.safetensors").c_str()),
            0);
  std::string index = writeFile("m/model.safetensors.index.json",
                                "{\"weight_map\":{\"a\":\"s.safetensors\"}}");
  expectModelError(index, {"outside the folder"});
  // Also through a symlinked folder.
  ASSERT_EQ(::symlink(dir.c_str(), pathOf("m/up").c_str()), 0);
  index = writeFile("m/model.safetensors.index.json",
                    "{\"weight_map\":{\"a\":\"up/outside.safetensors\"}}");
  expectModelError(index, {"outside the folder"});
}

TEST_F(ShardedTest, MissingShard) {
  std::string index = writeIndex("{\"a\":\"nope.safetensors\"}");
  expectModelError(index, {"'nope.safetensors'", "cannot open"});
}

TEST_F(ShardedTest, BadShardNames) {
  std::string index = writeIndex("{\"a\":\"\"}");
  expectModelError(index, {"empty file name"});
  index = writeIndex("{\"a\":\"x\\u0000y\"}");
  expectModelError(index, {"NUL byte"});
}

TEST_F(ShardedTest, DuplicateTensorAcrossShards) {
  writeShard("s1.safetensors", {"a", "b"});
  writeShard("s2.safetensors", {"b", "c"});
  std::string index = writeIndex("{\"a\":\"s1.safetensors\","
                                 "\"b\":\"s1.safetensors\","
                                 "\"c\":\"s2.safetensors\"}");
  expectModelError(index, {"tensor 'b' appears in both", "s1.safetensors",
                           "s2.safetensors"});
}

TEST_F(ShardedTest, TensorNotInNamedShard) {
  writeShard("s1.safetensors", {"a"});
  writeShard("s2.safetensors", {"b"});
  std::string index = writeIndex("{\"a\":\"s1.safetensors\","
                                 "\"b\":\"s1.safetensors\","
                                 "\"x\":\"s2.safetensors\"}");
  expectModelError(index, {"tensor 'b'", "no such tensor"});
}

TEST_F(ShardedTest, SameFileUnderTwoNamesIsOneShard) {
  writeShard("s1.safetensors", {"a", "b"});
  std::string index = writeIndex("{\"a\":\"s1.safetensors\","
                                 "\"b\":\"./s1.safetensors\"}");
  Expected<std::unique_ptr<SafeTensorsModel>> model =
      SafeTensorsModel::open(index);
  ASSERT_TRUE(model) << model.message();
  EXPECT_EQ((*model)->getShards().size(), 1u);
}

TEST_F(ShardedTest, BadIndexFiles) {
  expectModelError(writeIndex("[]"), {"\"weight_map\" must be an object"});
  expectModelError(writeIndex("{\"a\":3}"),
                   {"weight_map entry for tensor 'a' must be a string"});
  expectModelError(writeFile("model.safetensors.index.json", "{}"),
                   {"missing \"weight_map\""});
  expectModelError(writeFile("model.safetensors.index.json", "[]"),
                   {"not a JSON object"});
  expectModelError(writeFile("model.safetensors.index.json", "{"),
                   {"not valid JSON"});
  expectModelError(writeFile("model.safetensors.index.json", "{\"\xff\":1}"),
                   {"not valid UTF-8"});
  expectModelError(writeIndex("{\"a\":\"s\",\"a\":\"s\"}"),
                   {"duplicate key 'a'"});
  expectModelError(writeIndex("{}", "\"metadata\":3,"),
                   {"\"metadata\" must be an object"});
  // A shard that is itself malformed reports the shard's problem.
  writeFile("bad.safetensors", "short");
  expectModelError(writeIndex("{\"a\":\"bad.safetensors\"}"),
                   {"bad.safetensors", "too short"});
}

TEST_F(ShardedTest, RandomIndexMutationsNeverCrash) {
  writeShard("s1.safetensors", {"a"});
  writeShard("s2.safetensors", {"b"});
  const std::string index = "{\"metadata\":{\"total_size\":2},\"weight_map\":"
                            "{\"a\":\"s1.safetensors\",\"b\":"
                            "\"s2.safetensors\"}}";
  std::mt19937_64 rng(424242);
  for (int iter = 0; iter < 500; ++iter) {
    std::string mutated = index;
    mutated[rng() % mutated.size()] = static_cast<char>(rng() & 0xff);
    std::string path = writeFile("model.safetensors.index.json", mutated);
    Expected<std::unique_ptr<SafeTensorsModel>> model =
        SafeTensorsModel::open(path);
    if (!model) {
      EXPECT_FALSE(model.message().empty());
    }
  }
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

TEST_F(SafeTensorsTest, WriterFailsIntoMissingFolder) {
  uint8_t b = 1;
  std::string path = pathOf("no/such/folder/x.safetensors");
  Status s = writeSafeTensors(path, {{"a", DType::U8, {1}, &b, 1}});
  ASSERT_TRUE(s.isError());
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  EXPECT_TRUE(listFolder(dir).empty());
}

TEST_F(SafeTensorsTest, WriterRejectsBadInputAndKeepsOldFile) {
  std::string path = pathOf("keep.safetensors");
  uint8_t b[4] = {1, 2, 3, 4};
  ASSERT_TRUE(writeSafeTensors(path, {{"a", DType::U8, {4}, b, 4}}).isOk());
  const std::string before = readFile(path);

  struct Case {
    std::vector<TensorToWrite> tensors;
    std::map<std::string, std::string> meta;
    const char *expected;
  } cases[] = {
      {{{"a", DType::F32, {4}, b, 4}}, {}, "needs 16 bytes"},
      {{{"a", DType::U8, {-1}, b, 0}}, {}, "negative dimension"},
      {{{"a", DType::U8, {4}, nullptr, 4}}, {}, "null data"},
      {{{"a", DType::U8, {1}, b, 1}, {"a", DType::U8, {1}, b, 1}},
       {},
       "duplicate tensor name"},
      {{{"__metadata__", DType::U8, {1}, b, 1}}, {}, "reserved"},
      {{{"bad\xff", DType::U8, {1}, b, 1}}, {}, "cannot encode header"},
      {{}, {{"k", "bad\xff"}}, "cannot encode header"},
      {{{"a", DType::U8, {4294967296, 4294967296}, b, 0}}, {}, "overflows"},
      {{{"a", static_cast<DType>(200), {1}, b, 1}}, {}, "invalid dtype"},
  };
  for (const Case &c : cases) {
    Status s = writeSafeTensors(path, c.tensors, c.meta);
    ASSERT_TRUE(s.isError()) << c.expected;
    EXPECT_NE(s.message().find(c.expected), std::string::npos) << s.message();
    EXPECT_EQ(readFile(path), before);
    EXPECT_EQ(listFolder(dir), std::set<std::string>{"keep.safetensors"});
  }
}

TEST_F(SafeTensorsTest, WriterFailsOverFolderAndCleansUp) {
  // The rename over a non-empty folder fails after the temporary file has
  // been written; it must be removed and the folder left alone.
  ASSERT_EQ(::mkdir(pathOf("target").c_str(), 0755), 0);
  writeFile("target/inside", "keep");
  uint8_t b = 1;
  Status s = writeSafeTensors(pathOf("target"), {{"a", DType::U8, {1}, &b, 1}});
  ASSERT_TRUE(s.isError());
  EXPECT_NE(s.message().find("rename"), std::string::npos) << s.message();
  EXPECT_EQ(listFolder(dir), std::set<std::string>{"target"});
  EXPECT_EQ(readFile(pathOf("target/inside")), "keep");
}

TEST_F(SafeTensorsTest, WriterOverwritesWhole) {
  std::string path = pathOf("w.safetensors");
  std::string big = bytes(4096);
  ASSERT_TRUE(writeSafeTensors(
                  path, {{"big", DType::U8, {4096}, big.data(), big.size()}},
                  {{"v", "1"}})
                  .isOk());
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  uint16_t small = 0xbeef;
  ASSERT_TRUE(
      writeSafeTensors(path, {{"small", DType::U16, {}, &small, 2}}).isOk());
  EXPECT_EQ(listFolder(dir), std::set<std::string>{"w.safetensors"});

  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  Expected<std::unique_ptr<SafeTensorsFile>> file = SafeTensorsFile::open(path);
  ASSERT_TRUE(file) << file.message();
  EXPECT_EQ((*file)->lookup("big"), nullptr);
  EXPECT_TRUE((*file)->getMetadata().empty());
  const TensorView *view = (*file)->lookup("small");
  ASSERT_NE(view, nullptr);
  uint16_t readBack;
  std::memcpy(&readBack, view->data, 2);
  EXPECT_EQ(readBack, 0xbeef);
  EXPECT_EQ((*file)->getFileSize(), (*file)->getDataSectionOffset() + 2);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), (*file)->getFileSize());
}

TEST_F(SafeTensorsTest, WriterHeaderIsAlignedAndSpacePadded) {
  for (size_t len = 1; len <= 9; ++len) {
    std::string path = pathOf("p" + std::to_string(len) + ".safetensors");
    uint8_t b = 0;
    ASSERT_TRUE(
        writeSafeTensors(path, {{std::string(len, 'n'), DType::U8, {1}, &b, 1}})
            .isOk());
    std::string contents = readFile(path);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i)
      n = (n << 8) | static_cast<uint8_t>(contents[i]);
    EXPECT_EQ(n % 8, 0u);
    size_t brace = contents.rfind('}', 8 + n);
    ASSERT_NE(brace, std::string::npos);
    for (size_t i = brace + 1; i < 8 + n; ++i)
      EXPECT_EQ(contents[i], ' ');
  }
}

} // namespace
