#===- Makefile - the README's two commands ---------------------------------===#
#
#   make demo   install what is missing, build, run the main job on the
#               bundled default model
#   make test   install what is missing, build (release and ASan+UBSan), run
#               every test, end in one summary line
#
# Everything else is CMake + Ninja; this file only strings the steps together.
#
#===----------------------------------------------------------------------===#

BUILD_DIR ?= build
ASAN_BUILD_DIR ?= build-asan
LLVM_PREFIX ?= /usr/lib/llvm-22
DEMO_MODEL ?= examples/gpt2-tiny/model.mlir

CMAKE_COMMON := -G Ninja \
  -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
  -DLLVM_USE_LINKER=lld -DLLM_LLVM_PREFIX=$(LLVM_PREFIX) \
  -DLLVM_EXTERNAL_LIT=$(LLVM_PREFIX)/bin/lit

.PHONY: all setup build build-asan demo test docs clean

all: build

setup:
	@utils/setup.sh

$(BUILD_DIR)/build.ninja: | setup
	cmake -S . -B $(BUILD_DIR) $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=Release

$(ASAN_BUILD_DIR)/build.ninja: | setup
	cmake -S . -B $(ASAN_BUILD_DIR) $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" -DLLM_ENABLE_SANITIZERS=ON

build: setup $(BUILD_DIR)/build.ninja
	ninja -C $(BUILD_DIR) all llm-test-depends llm-doc

build-asan: setup $(ASAN_BUILD_DIR)/build.ninja
	ninja -C $(ASAN_BUILD_DIR) llm-test-depends

# The main job at this stage: parse the bundled GPT-2-style model written in
# the llm dialect, verify it, canonicalize it and print it.
demo: build
	@mkdir -p $(BUILD_DIR)/demo
	$(BUILD_DIR)/bin/llm-opt $(DEMO_MODEL) --canonicalize --verify-each \
	  -o $(BUILD_DIR)/demo/model.canonical.mlir
	@cat $(BUILD_DIR)/demo/model.canonical.mlir
	@echo "demo: $(DEMO_MODEL) verified and canonicalized:" \
	  "$$(grep -c ' = llm\.' $(BUILD_DIR)/demo/model.canonical.mlir) llm ops," \
	  "$$(grep -o 'llm.param' $(BUILD_DIR)/demo/model.canonical.mlir | wc -l) parameters" \
	  "-> $(BUILD_DIR)/demo/model.canonical.mlir"

test: build build-asan
	utils/run-tests.sh $(BUILD_DIR) $(ASAN_BUILD_DIR)

# Regenerates the ODS documentation checked into docs/ (a test fails when the
# two disagree).
docs: build
	cp $(BUILD_DIR)/docs/Dialects/LLMOps.md docs/Dialects/LLMOps.md

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR)
