//===- LLMPrecompiled.cpp - the translation unit of the shared PCH --------===//
//
// Empty: CMake builds cmake/LLMPrecompiled.h into a precompiled header as
// part of this object library, for the other targets to reuse.
//
//===----------------------------------------------------------------------===//
