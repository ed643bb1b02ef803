//===- RuntimeSupport.cpp - Helpers shared by the runtime's sources -------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// Implements the private helpers declared in RuntimeSupport.h.
//
//===----------------------------------------------------------------------===//

#include "RuntimeSupport.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <set>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace llm::rt;
using namespace llm::rt::detail;

/// Returns the text of errno value \p err.
std::string llm::rt::detail::errnoText(int err) {
  return std::system_category().message(err);
}

/// Renders \p s for an error message: quoted, with non-printable bytes
/// escaped and very long names shortened.
std::string llm::rt::detail::quote(std::string_view s) {
  constexpr size_t maxLen = 200;
  static const char hex[] = "0123456789abcdef";
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < maxLen; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  if (s.size() > maxLen)
    out += "...";
  out += "'";
  return out;
}

/// Sets \p out to a * b; returns false if the product overflows uint64_t.
bool llm::rt::detail::checkedMul(uint64_t a, uint64_t b, uint64_t &out) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a)
    return false;
  out = a * b;
  return true;
}

/// Sets \p out to a + b; returns false if the sum overflows uint64_t.
bool llm::rt::detail::checkedAdd(uint64_t a, uint64_t b, uint64_t &out) {
  if (b > std::numeric_limits<uint64_t>::max() - a)
    return false;
  out = a + b;
  return true;
}

/// Parses [begin, end) as JSON into \p out, rejecting objects with duplicate
/// keys. \p what names the text in error messages (e.g. "f: header").
Status llm::rt::detail::parseJsonStrict(const char *begin, const char *end,
                                        const std::string &what, Json &out) {
  // nlohmann-json stops at a NUL byte as if the input ended there, which
  // would silently accept "{}\0<garbage>". A raw NUL is never valid JSON.
  if (const void *nul = std::memchr(begin, '\0', end - begin))
    return Status::error(
        what + " is not valid JSON: NUL byte at offset " +
        std::to_string(static_cast<const char *>(nul) - begin));
  std::vector<std::set<std::string>> keyStack;
  std::optional<std::string> duplicateKey;
  auto callback = [&](int /*depth*/, Json::parse_event_t event,
                      Json &parsed) -> bool {
    switch (event) {
    case Json::parse_event_t::object_start:
      keyStack.emplace_back();
      break;
    case Json::parse_event_t::object_end:
      if (!keyStack.empty())
        keyStack.pop_back();
      break;
    case Json::parse_event_t::key:
      if (!duplicateKey && !keyStack.empty() && parsed.is_string()) {
        const std::string &key = parsed.get_ref<const std::string &>();
        if (!keyStack.back().insert(key).second)
          duplicateKey = key;
      }
      break;
    default:
      break;
    }
    return true;
  };
  try {
    out = Json::parse(begin, end, callback, /*allow_exceptions=*/true,
                      /*ignore_comments=*/false);
  } catch (const Json::exception &e) {
    return Status::error(what + " is not valid JSON: " + e.what());
  }
  if (duplicateKey)
    return Status::error(what + " has duplicate key " + quote(*duplicateKey) +
                         " in a JSON object");
  return Status::success();
}

/// Returns the text of a shape, e.g. "[2, 3]".
std::string llm::rt::detail::shapeText(const std::vector<int64_t> &shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

/// Splits \p path into its folder ("." if none) and final component.
void llm::rt::detail::splitPath(const std::string &path, std::string &dir,
                                std::string &base) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    dir = ".";
    base = path;
  } else {
    dir = slash == 0 ? "/" : path.substr(0, slash);
    base = path.substr(slash + 1);
  }
}

std::string llm::rt::detail::joinPath(const std::string &dir,
                                      const std::string &name) {
  if (dir.empty() || dir.back() == '/')
    return dir + name;
  return dir + "/" + name;
}

bool llm::rt::detail::endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Returns the canonical absolute form of \p path (symlinks resolved).
Expected<std::string> llm::rt::detail::resolvePath(const std::string &path) {
  char *resolved = ::realpath(path.c_str(), nullptr);
  if (!resolved) {
    int err = errno;
    return Status::error(errnoText(err));
  }
  std::string out(resolved);
  std::free(resolved);
  return out;
}

/// Opens \p path read-only and checks that it is a regular file. Returns the
/// descriptor (>= 0) and its size, or -1 with \p error set.
int llm::rt::detail::openRegularFile(const std::string &path, uint64_t &size,
                                     Status &error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    error = Status::error(path + ": cannot open: " + errnoText(err));
    return -1;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    error = Status::error(path + ": cannot stat: " + errnoText(err));
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    error = Status::error(path + ": not a regular file");
    return -1;
  }
  size = static_cast<uint64_t>(st.st_size);
  return fd;
}

/// Reads a whole regular file of at most \p maxSize bytes.
Expected<std::string> llm::rt::detail::readSmallFile(const std::string &path,
                                                     uint64_t maxSize) {
  uint64_t size = 0;
  Status error;
  int fd = openRegularFile(path, size, error);
  if (fd < 0)
    return error;
  if (size > maxSize) {
    ::close(fd);
    return Status::error(path + ": file is " + std::to_string(size) +
                         " bytes, over the " + std::to_string(maxSize) +
                         "-byte limit");
  }
  std::string data;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      int err = errno;
      ::close(fd);
      return Status::error(path + ": read failed: " + errnoText(err));
    }
    if (n == 0)
      break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > maxSize) {
      ::close(fd);
      return Status::error(path + ": file grew over the " +
                           std::to_string(maxSize) + "-byte limit");
    }
  }
  ::close(fd);
  return data;
}

uint64_t llm::rt::detail::getPhysicalMemoryBytes() {
  long pages = ::sysconf(_SC_PHYS_PAGES);
  long pageSize = ::sysconf(_SC_PAGESIZE);
  uint64_t bytes = 0;
  if (pages <= 0 || pageSize <= 0 ||
      !checkedMul(static_cast<uint64_t>(pages), static_cast<uint64_t>(pageSize),
                  bytes))
    return 0;
  return bytes;
}

std::string llm::rt::detail::byteCountText(uint64_t bytes) {
  char gib[32];
  std::snprintf(gib, sizeof(gib), "%.1f",
                static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
  return std::to_string(bytes) + " bytes (" + gib + " GiB)";
}

/// Writes all of [data, data + size) to \p fd; on failure sets \p err.
static bool writeAll(int fd, const void *data, uint64_t size, int &err) {
  const char *p = static_cast<const char *>(data);
  while (size > 0) {
    size_t chunk = static_cast<size_t>(std::min<uint64_t>(size, 1u << 30));
    ssize_t n = ::write(fd, p, chunk);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      err = errno;
      return false;
    }
    if (n == 0) {
      err = EIO;
      return false;
    }
    p += n;
    size -= static_cast<uint64_t>(n);
  }
  return true;
}

Status
llm::rt::detail::writeFileAtomically(const std::string &path,
                                     const std::vector<ByteRange> &pieces) {
  std::string dir, base;
  splitPath(path, dir, base);
  if (base.empty() || base == "." || base == "..")
    return Status::error(path + ": not a file name");

  std::string tmpl = joinPath(dir, "." + base + ".tmp.XXXXXX");
  std::vector<char> tmpName(tmpl.begin(), tmpl.end());
  tmpName.push_back('\0');
  int fd = ::mkstemp(tmpName.data());
  if (fd < 0) {
    int err = errno;
    return Status::error(path + ": cannot create a temporary file in " + dir +
                         ": " + errnoText(err));
  }
  std::string tmpPath(tmpName.data());
  auto fail = [&](const std::string &what, int err) {
    if (fd >= 0)
      ::close(fd);
    ::unlink(tmpPath.c_str());
    return Status::error(path + ": " + what + ": " + errnoText(err));
  };
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  int err = 0;

  // Keep the mode of an existing file; new files get rw-r--r--.
  mode_t mode = 0644;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode))
    mode = st.st_mode & 07777;
  if (::fchmod(fd, mode) != 0) {
    err = errno;
    return fail("cannot set the mode of " + tmpPath, err);
  }

  for (const ByteRange &piece : pieces)
    if (piece.size > 0 && !writeAll(fd, piece.data, piece.size, err))
      return fail("cannot write " + tmpPath, err);
  if (::fsync(fd) != 0) {
    err = errno;
    return fail("cannot fsync " + tmpPath, err);
  }
  int closeResult = ::close(fd);
  err = errno;
  fd = -1;
  if (closeResult != 0)
    return fail("cannot close " + tmpPath, err);
  if (::rename(tmpPath.c_str(), path.c_str()) != 0) {
    err = errno;
    return fail("cannot rename " + tmpPath + " over it", err);
  }

  int dirFd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd < 0) {
    err = errno;
    return Status::error(path + ": written, but cannot open folder " + dir +
                         " to fsync it: " + errnoText(err));
  }
  if (::fsync(dirFd) != 0) {
    err = errno;
    ::close(dirFd);
    return Status::error(path + ": written, but fsync of folder " + dir +
                         " failed: " + errnoText(err));
  }
  ::close(dirFd);
  return Status::success();
}
