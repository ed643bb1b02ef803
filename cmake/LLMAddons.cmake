#===- LLMAddons.cmake - helpers shared by llm-opt's CMake files -*- cmake -*-===#
#
# Thin wrappers over AddMLIR/AddLLVM so that every llm library and tool links
# libMLIR.so / libLLVM.so the same way and names the upstream libraries it
# uses (they resolve to the dylib because MLIR_LINK_MLIR_DYLIB is ON).
#
#===----------------------------------------------------------------------===#

# The precompiled upstream headers (cmake/LLMPrecompiled.h), built once and
# reused by every target that links MLIR. Off with -DLLM_PRECOMPILED_HEADERS=OFF.
option(LLM_PRECOMPILED_HEADERS "Precompile the common MLIR headers once" ON)
if(LLM_PRECOMPILED_HEADERS)
  add_library(LLMPrecompiled OBJECT "${CMAKE_CURRENT_LIST_DIR}/LLMPrecompiled.cpp")
  target_precompile_headers(LLMPrecompiled PRIVATE
    "${CMAKE_CURRENT_LIST_DIR}/LLMPrecompiled.h")
endif()

function(llm_use_precompiled_headers name)
  if(LLM_PRECOMPILED_HEADERS)
    target_precompile_headers(${name} REUSE_FROM LLMPrecompiled)
  endif()
endfunction()

# llm_add_library(name SOURCES...
#                 [DEPENDS targets...] [LINK_LIBS llm libraries...]
#                 [MLIR_LIBS upstream MLIR libraries...])
function(llm_add_library name)
  cmake_parse_arguments(ARG "" "" "DEPENDS;LINK_LIBS;MLIR_LIBS" ${ARGN})
  add_library(${name} STATIC ${ARG_UNPARSED_ARGUMENTS})
  if(ARG_DEPENDS)
    add_dependencies(${name} ${ARG_DEPENDS})
  endif()
  target_link_libraries(${name} PUBLIC ${ARG_LINK_LIBS})
  mlir_target_link_libraries(${name} PUBLIC ${ARG_MLIR_LIBS})
  target_link_libraries(${name} PUBLIC LLVM)
  if(ARG_MLIR_LIBS)
    llm_use_precompiled_headers(${name})
  endif()
endfunction()

# llm_add_tool(name SOURCES... [LINK_LIBS ...] [MLIR_LIBS ...])
function(llm_add_tool name)
  cmake_parse_arguments(ARG "" "" "LINK_LIBS;MLIR_LIBS" ${ARGN})
  add_executable(${name} ${ARG_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE ${ARG_LINK_LIBS})
  mlir_target_link_libraries(${name} PRIVATE ${ARG_MLIR_LIBS})
  target_link_libraries(${name} PRIVATE LLVM)
  if(ARG_MLIR_LIBS)
    llm_use_precompiled_headers(${name})
  endif()
endfunction()

# ASan + UBSan for every target; a finding aborts the process so that the
# bad-input tests fail loudly instead of printing a warning.
macro(llm_enable_sanitizers)
  set(_llm_san "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer")
  # vptr checks need RTTI on both sides of every call; libMLIR is not built
  # with them, so keep UBSan to the checks that are meaningful here.
  string(APPEND _llm_san " -fno-sanitize=vptr")
  string(APPEND CMAKE_C_FLAGS " ${_llm_san}")
  string(APPEND CMAKE_CXX_FLAGS " ${_llm_san}")
  string(APPEND CMAKE_EXE_LINKER_FLAGS " ${_llm_san}")
  string(APPEND CMAKE_SHARED_LINKER_FLAGS " ${_llm_san}")
endmacro()
