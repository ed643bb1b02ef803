#===- Makefile - the README's two commands ---------------------------------===#
#
#   make demo   install what is missing, build, run the main job on the
#               bundled default model
#   make test   install what is missing, build (release and ASan+UBSan), run
#               every test, end in one summary line
#   make bench  build, then time the GPT-2-small forward against PyTorch
#               (bench/README.md)
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

.PHONY: all setup build build-asan demo test bench docs clean

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

# The main job at this stage: verify and canonicalize the bundled GPT-2-style
# model written in the llm dialect, compile it ahead of time to a native
# artifact, and run a forward pass with llm-run. The bundled model has no
# trained weights yet: the demo writes seeded random ones in GPT-2's
# checkpoint layout (utils/make-tiny-model.py).
DEMO_DIR := $(BUILD_DIR)/demo
demo: build
	@mkdir -p $(DEMO_DIR)
	$(BUILD_DIR)/bin/llm-opt $(DEMO_MODEL) --canonicalize \
	  -o $(DEMO_DIR)/model.canonical.mlir
	@echo "demo: $(DEMO_MODEL) verified and canonicalized:" \
	  "$$(grep -c ' = llm\.' $(DEMO_DIR)/model.canonical.mlir) llm ops," \
	  "$$(grep -o 'llm.param' $(DEMO_DIR)/model.canonical.mlir | wc -l) parameters"
	$(BUILD_DIR)/bin/llm-compile $(DEMO_MODEL) -o $(DEMO_DIR)/artifact
	/usr/bin/python3 utils/make-tiny-model.py --family gpt2 --hidden 64 \
	  --heads 4 --layers 2 --vocab 256 --ctx 64 --seed 1 --out $(DEMO_DIR)/weights
	$(BUILD_DIR)/bin/llm-run forward --artifact $(DEMO_DIR)/artifact \
	  --weights $(DEMO_DIR)/weights --tokens 72,101,108,108,111 --top 5 \
	  --npy $(DEMO_DIR)/logits.npy

test: build build-asan
	utils/run-tests.sh $(BUILD_DIR) $(ASAN_BUILD_DIR)

bench: build
	/usr/bin/python3 bench/gpt2_small.py --llm-compile $(BUILD_DIR)/bin/llm-compile

# Regenerates the ODS documentation checked into docs/ (a test fails when the
# two disagree).
docs: build
	cp $(BUILD_DIR)/docs/Dialects/LLMOps.md docs/Dialects/LLMOps.md
	cp $(BUILD_DIR)/docs/Passes/*.md docs/Passes/

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR)
