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
	  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only" -DLLM_ENABLE_SANITIZERS=ON

build: setup $(BUILD_DIR)/build.ninja
	ninja -C $(BUILD_DIR) all llm-test-depends llm-doc

build-asan: setup $(ASAN_BUILD_DIR)/build.ninja
	ninja -C $(ASAN_BUILD_DIR) llm-test-depends

# The main job: compile the bundled default model (examples/kjv-gpt/model, a
# byte-level GPT-2-style model trained by llm-run train on the King James
# Bible; examples/kjv-gpt/README.md) ahead of time with llm-compile, then
# generate text from a prompt with llm-run generate. llm-compile prints the
# compiled arena size; llm-run generate ends with tokens/s.
DEMO_DIR := $(BUILD_DIR)/demo
DEMO_MODEL_DIR ?= examples/kjv-gpt/model
DEMO_PROMPT ?= And God said,
demo: build
	@mkdir -p $(DEMO_DIR)
	$(BUILD_DIR)/bin/llm-compile $(DEMO_MODEL_DIR) -o $(DEMO_DIR)/artifact
	$(BUILD_DIR)/bin/llm-run generate $(DEMO_DIR)/artifact \
	  --weights $(DEMO_MODEL_DIR) --prompt "$(DEMO_PROMPT)" \
	  --max-new-tokens 300 --context slide --top-k 20 --temperature 0.8 \
	  --seed 1 --stream

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
