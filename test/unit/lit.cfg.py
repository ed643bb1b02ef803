# -*- Python -*-
# Runs every GoogleTest binary named *Tests under the unit test folder, each
# test case counted on its own.

import os

import lit.formats

config.name = "LLM-Unit"
config.suffixes = []
config.test_source_root = config.llm_unit_dir
config.test_exec_root = config.llm_unit_dir
config.test_format = lit.formats.GoogleTest(".", "Tests")
if config.llm_sanitizers:
    # allow_user_poisoning=0: LLVM's BumpPtrAllocator poisons memory when the
    # including code is built with ASan, but libMLIR's uninstrumented copy
    # hands out the same pool without unpoisoning it (a false positive).
    config.environment["ASAN_OPTIONS"] = (
        "detect_leaks=0:abort_on_error=1:allow_user_poisoning=0")
    config.environment["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
