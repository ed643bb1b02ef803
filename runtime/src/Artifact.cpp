//===- Artifact.cpp - A compiled model artifact, loaded -------------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/Artifact.h"

#include "RuntimeSupport.h"

#include <cerrno>
#include <cstring>
#include <new>

#include <dlfcn.h>
#include <sys/stat.h>

using namespace llm::rt;
using namespace llm::rt::detail;

static Status artifactError(std::string message) {
  return Status::error(ErrorCode::Artifact, std::move(message));
}

/// Returns the text of the last dlerror(), or \p fallback.
static std::string takeDlError(const char *fallback) {
  const char *text = ::dlerror();
  return text ? std::string(text) : std::string(fallback);
}

/// Looks up \p name in \p handle. A symbol whose value is null counts as
/// missing: it could not be called.
static void *findSymbol(void *handle, const std::string &name) {
  ::dlerror(); // Clear any earlier error.
  return ::dlsym(handle, name.c_str());
}

/// Converts a symbol address to a function pointer. POSIX guarantees that
/// dlsym's result converts; the memcpy avoids a cast between object and
/// function pointers.
template <class FnTy> static FnTy toFunction(void *address) {
  static_assert(sizeof(FnTy) == sizeof(void *), "function pointer size");
  FnTy fn;
  std::memcpy(&fn, &address, sizeof(fn));
  return fn;
}

Expected<std::unique_ptr<Artifact>> Artifact::open(const std::string &dir) {
  try {
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) {
      int err = errno;
      return artifactError(
          dir + ": cannot open the artifact folder: " + errnoText(err));
    }
    if (!S_ISDIR(st.st_mode))
      return artifactError(dir + ": not a folder; an artifact is the folder "
                                 "llm-compile writes (manifest.json, "
                                 "libmodel.so)");
    Expected<std::string> realDir = resolvePath(dir);
    if (!realDir)
      return artifactError(
          dir + ": cannot resolve the artifact folder: " + realDir.message());

    std::unique_ptr<Artifact> artifact(new Artifact());
    artifact->directory = *realDir;
    std::string manifestPath = joinPath(dir, "manifest.json");
    Expected<Manifest> manifest = readManifest(manifestPath);
    if (!manifest)
      return manifest.getStatus();
    artifact->manifest = manifest.take();

    // The library must be a regular file inside the folder, symlinks
    // resolved.
    const std::string &library = artifact->manifest.library;
    std::string libraryPath = joinPath(dir, library);
    Expected<std::string> realLibrary = resolvePath(libraryPath);
    if (!realLibrary)
      return artifactError(manifestPath + ": library " + quote(library) +
                           ": cannot open " + libraryPath + ": " +
                           realLibrary.message());
    std::string prefix = *realDir == "/" ? "/" : *realDir + "/";
    if (realLibrary->compare(0, prefix.size(), prefix) != 0)
      return artifactError(manifestPath + ": library " + quote(library) +
                           " resolves to " + *realLibrary +
                           ", outside the artifact folder " + *realDir);
    if (::stat(realLibrary->c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      return artifactError(manifestPath + ": library " + quote(library) +
                           " is not a regular file");
    artifact->libraryPath = *realLibrary;

    ::dlerror();
    artifact->handle =
        ::dlopen(artifact->libraryPath.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!artifact->handle)
      return artifactError(artifact->libraryPath +
                           ": cannot load: " + takeDlError("dlopen failed"));

    void *abiSymbol = findSymbol(artifact->handle, "llm_abi_version");
    if (!abiSymbol)
      return artifactError(artifact->libraryPath +
                           ": does not export llm_abi_version; not an "
                           "llm-opt model library");
    int32_t abiVersion = toFunction<int32_t (*)()>(abiSymbol)();
    if (abiVersion != ArtifactAbiVersion)
      return artifactError(artifact->libraryPath + ": llm_abi_version() is " +
                           std::to_string(abiVersion) +
                           ", but this runtime implements ABI "
                           "version " +
                           std::to_string(ArtifactAbiVersion));

    for (const EntryPoint &entry : artifact->manifest.entryPoints) {
      void *symbol = findSymbol(artifact->handle, entry.symbol);
      if (!symbol)
        return artifactError(artifact->libraryPath + ": does not export " +
                             entry.symbol + ", the symbol of entry point " +
                             quote(entry.name) + " in " + manifestPath);
      artifact->entryFunctions.push_back(toFunction<EntryFunction>(symbol));
    }
    if (void *symbol = findSymbol(artifact->handle, "llm_set_num_threads"))
      artifact->setNumThreadsFn = toFunction<void (*)(int32_t)>(symbol);
    return {std::move(artifact)};
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory, dir + ": out of memory");
  } catch (const std::exception &e) {
    return artifactError(dir + ": unexpected error: " + e.what());
  }
}

Artifact::~Artifact() {
  if (handle)
    ::dlclose(handle);
}

EntryFunction Artifact::getEntryFunction(std::string_view name) const {
  for (size_t i = 0; i < manifest.entryPoints.size(); ++i)
    if (manifest.entryPoints[i].name == name)
      return entryFunctions[i];
  return nullptr;
}

Status Artifact::setNumThreads(int32_t n) const {
  if (n < 1 || n > MaxThreads)
    return Status::error(ErrorCode::InvalidArgument,
                         "the thread count must be between 1 and " +
                             std::to_string(MaxThreads) + ", got " +
                             std::to_string(n));
  if (setNumThreadsFn)
    setNumThreadsFn(n);
  return Status::success();
}
