//===- NumPy.cpp - Writing NumPy .npy files -------------------------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// The format (numpy/lib/format.py): the magic "\x93NUMPY", a major and a
// minor version byte (1, 0), a little-endian uint16 header length, then an
// ASCII Python dict literal padded with spaces and ended by '\n' so that the
// data starts at a multiple of 64 bytes.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/NumPy.h"

#include "RuntimeSupport.h"

#include <new>

using namespace llm::rt;
using namespace llm::rt::detail;

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "writeNpy writes '<f4' data and needs a little-endian host"
#endif

std::string llm::rt::getNpyHeader(const std::vector<int64_t> &shape) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]);
    // A one-element tuple needs its trailing comma.
    if (i + 1 < shape.size() || shape.size() == 1)
      dict += shape.size() == 1 ? "," : ", ";
  }
  dict += "), }";
  constexpr size_t prefixSize = 10; // magic (6), version (2), length (2).
  size_t total = prefixSize + dict.size() + 1;
  size_t padded = (total + 63) / 64 * 64;
  dict.append(padded - total, ' ');
  dict += '\n';
  std::string header = "\x93NUMPY";
  header += '\x01';
  header += '\x00';
  header += static_cast<char>(dict.size() & 0xff);
  header += static_cast<char>((dict.size() >> 8) & 0xff);
  return header + dict;
}

Status llm::rt::writeNpy(const std::string &path, const float *data,
                         const std::vector<int64_t> &shape) {
  try {
    uint64_t count = 1;
    for (int64_t dim : shape)
      if (dim < 0 || !checkedMul(count, static_cast<uint64_t>(dim), count))
        return Status::error(ErrorCode::InvalidArgument,
                             path + ": invalid shape " + shapeText(shape));
    uint64_t bytes = 0;
    if (!checkedMul(count, sizeof(float), bytes))
      return Status::error(ErrorCode::InvalidArgument,
                           path + ": the array is too large");
    if (bytes && !data)
      return Status::error(ErrorCode::InvalidArgument,
                           path + ": the data is a null pointer");
    std::string header = getNpyHeader(shape);
    if (header.size() - 10 > 0xffff)
      return Status::error(ErrorCode::InvalidArgument,
                           path + ": the shape is too long for a .npy header");
    return writeFileAtomically(path,
                               {{header.data(), header.size()}, {data, bytes}})
        .withDefaultCode(ErrorCode::IO);
  } catch (const std::bad_alloc &) {
    return Status::error(ErrorCode::OutOfMemory, path + ": out of memory");
  }
}
