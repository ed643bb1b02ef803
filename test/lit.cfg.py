# -*- Python -*-
# The lit configuration of llm-opt's FileCheck tests.

import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "LLM"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.llm_obj_root, "test")
# unit/ is a suite of its own (GoogleTest format), found through its site config.
config.excludes = ["lit.cfg.py", "lit.site.cfg.py.in", "CMakeLists.txt",
                   "Inputs"]

config.substitutions.append(("%PATH%", config.environment["PATH"]))
# Debian's python3, which has the python3-torch and python3-numpy the
# numerics tests compare against.
config.substitutions.append(("%python", "/usr/bin/python3"))
config.substitutions.append(("%llm_src_root", config.llm_src_root))
config.substitutions.append(("%llm_obj_root", config.llm_obj_root))

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.llm_tools_dir, append_path=True)

if config.llm_sanitizers:
    config.available_features.add("sanitizers")
    # A finding must fail the test; leaks inside libMLIR's static registries
    # are not ours.
    # allow_user_poisoning=0: LLVM's BumpPtrAllocator poisons memory when the
    # including code is built with ASan, but libMLIR's uninstrumented copy
    # hands out the same pool without unpoisoning it (a false positive).
    config.environment["ASAN_OPTIONS"] = (
        "detect_leaks=0:abort_on_error=1:allow_user_poisoning=0")
    config.environment["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
else:
    config.available_features.add("no-sanitizers")

# Unprivileged user + mount namespaces with tmpfs: the disk-full tests mount
# a small file system (test/tools/llm-run/Inputs/on-small-disk.sh).
import subprocess
import tempfile
with tempfile.TemporaryDirectory() as probe:
    try:
        if subprocess.run(["unshare", "-rm", "mount", "-t", "tmpfs", "-o",
                           "size=64k", "tmpfs", probe],
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL,
                          timeout=30).returncode == 0:
            config.available_features.add("user-mount-namespaces")
    except (OSError, subprocess.SubprocessError):
        pass

tool_dirs = [config.llm_tools_dir, config.llvm_tools_dir]
tools = ["llm-opt", "llm-translate", "llm-run", "llm-compile",
         "llm-generate-example"]
if not config.llm_sanitizers:
    tools.append("llm-count-allocations")
llvm_config.add_tool_substitutions(tools, tool_dirs)

# The fake model artifact (libmodel.so + manifest.json) that
# test/unit/Runtime builds from FakeModel.c; llm-run's tests run it in place
# of a compiled model.
config.substitutions.append(
    ("%llm_fake_model_dir",
     os.path.join(config.llm_obj_root, "test", "unit", "Runtime",
                  "fake-model")))
