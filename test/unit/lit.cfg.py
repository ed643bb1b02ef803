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
    config.environment["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1"
    config.environment["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
