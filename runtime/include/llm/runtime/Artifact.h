//===- Artifact.h - A compiled model artifact, loaded -----------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// This file declares Artifact: the folder llm-compile writes (manifest.json
// plus the library it names, see docs/ABI.md), with its manifest validated
// and its library loaded. Loading checks that the library stays inside the
// folder (no absolute paths, no "..", no symlink out), dlopens it with
// RTLD_NOW | RTLD_LOCAL, checks llm_abi_version() and resolves the symbol of
// every entry point and, when exported, llm_set_num_threads.
//
// dlopen runs the library's initializers: load only artifacts you trust.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_RUNTIME_ARTIFACT_H
#define LLM_RUNTIME_ARTIFACT_H

#include "llm/runtime/Manifest.h"
#include "llm/runtime/Status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace llm {
namespace rt {

/// The C signature of every entry point: `int32_t llm_NAME(void **args)`.
using EntryFunction = int32_t (*)(void **);

/// A loaded artifact. The library stays loaded while the object lives.
class Artifact {
public:
  /// Loads the artifact in folder \p dir. Errors have code Artifact (or
  /// OutOfMemory) and name the file or field at fault.
  static Expected<std::unique_ptr<Artifact>> open(const std::string &dir);

  ~Artifact();
  Artifact(const Artifact &) = delete;
  Artifact &operator=(const Artifact &) = delete;

  /// Returns the validated manifest.
  const Manifest &getManifest() const { return manifest; }

  /// Returns the canonical path of the artifact folder.
  const std::string &getDirectory() const { return directory; }

  /// Returns the canonical path of the loaded library.
  const std::string &getLibraryPath() const { return libraryPath; }

  /// Returns the function of entry point \p name, or null if the manifest
  /// has no such entry point.
  EntryFunction getEntryFunction(std::string_view name) const;

  /// Returns true if the library exports llm_set_num_threads.
  bool canSetNumThreads() const { return setNumThreadsFn != nullptr; }

  /// The largest thread count setNumThreads accepts.
  static constexpr int32_t MaxThreads = 4096;

  /// Calls llm_set_num_threads(\p n) if the library exports it; a count
  /// outside 1..MaxThreads is an error. The setting belongs to the loaded
  /// library, so it is shared by every Artifact opened from the same file.
  Status setNumThreads(int32_t n) const;

private:
  Artifact() = default;

  Manifest manifest;
  std::string directory;
  std::string libraryPath;
  void *handle = nullptr;
  std::vector<EntryFunction> entryFunctions; ///< Parallel to entryPoints.
  void (*setNumThreadsFn)(int32_t) = nullptr;
};

} // namespace rt
} // namespace llm

#endif // LLM_RUNTIME_ARTIFACT_H
