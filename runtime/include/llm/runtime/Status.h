//===- Status.h - Error reporting for the llm runtime -----------*- C++ -*-===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// This file defines llm::rt::Status and llm::rt::Expected<T>, the error
// reporting vocabulary shared by the runtime. The runtime is plain C++17 and
// must not depend on LLVM, so these are small stand-ins for llvm::Error and
// llvm::Expected. No runtime API lets an exception escape; failures are
// reported through these types instead.
//
//===----------------------------------------------------------------------===//

#ifndef LLM_RUNTIME_STATUS_H
#define LLM_RUNTIME_STATUS_H

#include <cassert>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace llm {
namespace rt {

/// What kind of failure an error Status reports, for callers that react to
/// the kind rather than the text (the C API maps it to llmrt_status).
enum class ErrorCode : uint8_t {
  Unknown,         ///< Anything not classified below.
  InvalidArgument, ///< The caller passed something unusable (tokens, sizes).
  Artifact,        ///< The compiled artifact (manifest, library) is unusable.
  Weights,         ///< The checkpoint does not fit the artifact.
  Execution,       ///< The compiled code failed or returned a bad result.
  OutOfMemory,     ///< An allocation failed or would exceed the memory.
  IO,              ///< Reading or writing a file failed.
};

/// The outcome of an operation: either success or an error carrying a
/// human-readable message and an ErrorCode.
class [[nodiscard]] Status {
public:
  /// Creates a success status.
  Status() = default;

  /// Returns a success status.
  static Status success() { return Status(); }

  /// Returns an error status with the given message. An empty message is
  /// replaced by "unknown error" so that an error is never mistaken for
  /// success.
  static Status error(std::string message) {
    return error(ErrorCode::Unknown, std::move(message));
  }

  /// Returns an error status of kind \p code with the given message.
  static Status error(ErrorCode code, std::string message) {
    Status s;
    s.isErr = true;
    s.errCode = code;
    s.msg = message.empty() ? std::string("unknown error") : std::move(message);
    return s;
  }

  /// Returns a copy of this status with its code replaced by \p code if it
  /// is an error of unknown kind; a success stays a success.
  Status withDefaultCode(ErrorCode code) const {
    Status s = *this;
    if (s.isErr && s.errCode == ErrorCode::Unknown)
      s.errCode = code;
    return s;
  }

  /// Returns true if this status is a success.
  bool isOk() const { return !isErr; }

  /// Returns true if this status is an error.
  bool isError() const { return isErr; }

  /// Returns the error message; empty for a success status.
  const std::string &message() const { return msg; }

  /// Returns the kind of error; Unknown for a success status.
  ErrorCode code() const { return errCode; }

private:
  bool isErr = false;
  ErrorCode errCode = ErrorCode::Unknown;
  std::string msg;
};

/// Holds either a value of type T or an error Status, like llvm::Expected.
///
/// Accessing the value of an Expected that holds an error is a programming
/// error (checked by assert in debug builds).
template <class T> class [[nodiscard]] Expected {
public:
  /// Creates an Expected holding \p value.
  Expected(T value) : storage(std::move(value)) {}

  /// Creates an Expected holding the error \p status. Passing a success status
  /// is a programming error; it is turned into an error so that the object
  /// never claims to hold a value it does not have.
  Expected(Status status) : error(std::move(status)) {
    if (error.isOk())
      error =
          Status::error("internal error: Expected built from a success Status");
  }

  /// Returns true if this holds a value.
  bool hasValue() const { return storage.has_value(); }

  /// Returns true if this holds a value.
  explicit operator bool() const { return hasValue(); }

  /// Returns the held value.
  T &get() {
    assert(hasValue() && "Expected holds an error");
    return *storage;
  }
  const T &get() const {
    assert(hasValue() && "Expected holds an error");
    return *storage;
  }
  T &operator*() { return get(); }
  const T &operator*() const { return get(); }
  T *operator->() { return &get(); }
  const T *operator->() const { return &get(); }

  /// Moves the held value out.
  T take() { return std::move(get()); }

  /// Returns the error; a success Status if this holds a value.
  const Status &getStatus() const { return error; }

  /// Returns the error message; empty if this holds a value.
  const std::string &message() const { return error.message(); }

private:
  std::optional<T> storage;
  Status error;
};

} // namespace rt
} // namespace llm

#endif // LLM_RUNTIME_STATUS_H
