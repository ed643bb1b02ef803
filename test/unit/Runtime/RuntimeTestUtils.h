//===- RuntimeTestUtils.h - Helpers of the runtime unit tests ---*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// Temporary folders, file helpers, and the fake artifact: a copy of the fake
// model library (FakeModel.c) with a manifest and a checkpoint, in the
// numbers FakeModel.c computes with (vocabulary 11, width 4, 8 positions).
//
//===----------------------------------------------------------------------===//

#ifndef LLM_TEST_UNIT_RUNTIME_RUNTIMETESTUTILS_H
#define LLM_TEST_UNIT_RUNTIME_RUNTIMETESTUTILS_H

#include "llm/runtime/DTypeConversion.h"
#include "llm/runtime/SafeTensors.h"

#include "gtest/gtest.h"
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <dlfcn.h>

namespace llm {
namespace rt {
namespace test {

namespace fs = std::filesystem;
using Json = nlohmann::json;

/// The fake model's dimensions.
constexpr int64_t FakeVocab = 11;
constexpr int64_t FakeDim = 4;
constexpr int64_t FakeMaxPositions = 8;

/// A fresh folder under $TMPDIR, removed with its contents at the end.
class TempDir {
public:
  TempDir() {
    const char *tmp = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(tmp && *tmp ? tmp : "/tmp") + "/llmrt-test-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()))
      path = buf.data();
    else
      ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;

  /// Returns the path of \p name inside the folder.
  std::string operator/(const std::string &name) const {
    return path + "/" + name;
  }
  const std::string &str() const { return path; }

private:
  std::string path;
};

inline void writeTextFile(const std::string &path, const std::string &text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  EXPECT_TRUE(out.good()) << "cannot write " << path;
}

inline std::string readTextFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Returns the fake model's manifest (Inputs/fake-model-manifest.json).
inline Json getFakeManifest() {
  return Json::parse(readTextFile(LLM_FAKE_MODEL_MANIFEST));
}

/// Writes an artifact into \p dir: \p manifest as manifest.json and a copy
/// of \p library as libmodel.so.
inline void writeArtifact(const std::string &dir, const Json &manifest,
                          const std::string &library = LLM_FAKE_MODEL_LIB) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  // A fresh file, never an overwrite: a library the process still maps must
  // not change under it.
  fs::remove_all(dir + "/libmodel.so", ec);
  fs::copy_file(library, dir + "/libmodel.so", ec);
  ASSERT_FALSE(ec) << "cannot copy " << library << ": " << ec.message();
  writeTextFile(dir + "/manifest.json", manifest.dump(2));
}

/// The fake checkpoint's values; exact in f16 and bf16.
inline float fakeWte(int64_t id, int64_t column) {
  return static_cast<float>(id) * 0.5f + static_cast<float>(column) * 0.25f -
         1.0f;
}
inline float fakeBias(int64_t column) {
  return 0.125f * static_cast<float>(column + 1);
}

/// The logit FakeModel.c computes at vocabulary entry \p v for token \p id.
inline float fakeLogit(int64_t id, int64_t v) {
  return fakeWte(id, v % FakeDim) + fakeBias(v % FakeDim) +
         static_cast<float>(v);
}

/// Encodes \p values as \p dtype (F32, F16 or BF16), little-endian.
inline std::vector<uint8_t> encode(const std::vector<float> &values,
                                   DType dtype) {
  std::vector<uint8_t> bytes;
  for (float value : values) {
    if (dtype == DType::F32) {
      uint32_t bits;
      std::memcpy(&bits, &value, 4);
      for (int i = 0; i < 4; ++i)
        bytes.push_back(static_cast<uint8_t>(bits >> (8 * i)));
    } else {
      uint16_t bits = dtype == DType::F16 ? convertF32ToF16(value)
                                          : convertF32ToBF16(value);
      bytes.push_back(static_cast<uint8_t>(bits));
      bytes.push_back(static_cast<uint8_t>(bits >> 8));
    }
  }
  return bytes;
}

/// A tensor for writeFakeCheckpoint's extra list.
struct ExtraTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

/// Writes the fake checkpoint (transformer.wte.weight [11, 4] and
/// transformer.ln_f.bias [4], both in \p dtype) plus \p extra to \p path.
inline void writeFakeCheckpoint(const std::string &path,
                                DType dtype = DType::F32,
                                const std::vector<ExtraTensor> &extra = {}) {
  std::vector<float> wte, bias;
  for (int64_t i = 0; i < FakeVocab; ++i)
    for (int64_t j = 0; j < FakeDim; ++j)
      wte.push_back(fakeWte(i, j));
  for (int64_t j = 0; j < FakeDim; ++j)
    bias.push_back(fakeBias(j));
  std::vector<uint8_t> wteBytes = encode(wte, dtype);
  std::vector<uint8_t> biasBytes = encode(bias, dtype);
  std::vector<TensorToWrite> tensors = {
      {"transformer.wte.weight",
       dtype,
       {FakeVocab, FakeDim},
       wteBytes.data(),
       wteBytes.size()},
      {"transformer.ln_f.bias",
       dtype,
       {FakeDim},
       biasBytes.data(),
       biasBytes.size()},
  };
  for (const ExtraTensor &t : extra)
    tensors.push_back(
        {t.name, t.dtype, t.shape, t.bytes.data(), t.bytes.size()});
  Status s = writeSafeTensors(path, tensors);
  ASSERT_TRUE(s.isOk()) << s.message();
}

/// Returns a manifest "concat" object: \p parts (name, size) joined along
/// \p axis.
inline Json
makeConcat(int64_t axis,
           const std::vector<std::pair<std::string, int64_t>> &parts) {
  Json list = Json::array();
  for (const auto &[name, size] : parts)
    list.push_back(Json{{"name", name}, {"size", size}});
  return Json{{"axis", axis}, {"parts", list}};
}

/// Returns the handle of the already loaded library at \p path (null if not
/// loaded); dlclose it after use.
inline void *findLoadedLibrary(const std::string &path) {
  std::error_code ec;
  std::string real = fs::canonical(path, ec).string();
  if (ec)
    return nullptr;
  return ::dlopen(real.c_str(), RTLD_NOW | RTLD_NOLOAD);
}

/// Calls the fake library's `int64_t fake_get_num_calls()` in the loaded
/// copy at \p path; -1 when it is not loaded.
inline int64_t getFakeNumCalls(const std::string &path) {
  void *handle = findLoadedLibrary(path);
  if (!handle)
    return -1;
  auto *fn =
      reinterpret_cast<int64_t (*)()>(::dlsym(handle, "fake_get_num_calls"));
  int64_t calls = fn ? fn() : -1;
  ::dlclose(handle);
  return calls;
}

/// Calls `int32_t fake_get_num_threads()` in the loaded copy at \p path.
inline int32_t getFakeNumThreads(const std::string &path) {
  void *handle = findLoadedLibrary(path);
  if (!handle)
    return -1;
  auto *fn =
      reinterpret_cast<int32_t (*)()>(::dlsym(handle, "fake_get_num_threads"));
  int32_t threads = fn ? fn() : -1;
  ::dlclose(handle);
  return threads;
}

/// Expects \p text to contain each of \p parts.
inline void expectContains(const std::string &text,
                           const std::vector<std::string> &parts) {
  for (const std::string &part : parts)
    EXPECT_NE(text.find(part), std::string::npos)
        << "message lacks \"" << part << "\": " << text;
}

} // namespace test
} // namespace rt
} // namespace llm

#endif // LLM_TEST_UNIT_RUNTIME_RUNTIMETESTUTILS_H
