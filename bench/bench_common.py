"""What the benchmarks share: PyTorch's fair BLAS and the timing loop.

    import bench_common
    bench_common.use_openblas()      # first, before torch is imported
    ms = bench_common.time_ms(fn, repeats)
"""

import os
import statistics
import sys
import time

OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-openmp"


def has_avx512():
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " avx512f" in line
                       for line in f)
    except OSError:
        return False


def use_openblas():
    """Debian's torch uses the reference BLAS; when OpenBLAS
    (libopenblas0-openmp) is installed, re-executes the script with
    LD_LIBRARY_PATH pointing at it, so that PyTorch is a fair peer. On an
    AVX-512 CPU, OPENBLAS_CORETYPE=SkylakeX gives OpenBLAS its AVX-512
    kernels, as llm-opt's kernels use: Debian 12's OpenBLAS (0.3.21) does
    not know AMD Zen 4 and 5 and falls back to its AVX2 Haswell ones (51
    against 66 GFLOP/s for a 1024 x 768 x 3072 matmul on one core here),
    and such machines may set OPENBLAS_CORETYPE=Haswell in the environment,
    which this overrides."""
    if (os.path.isdir(OPENBLAS_DIR)
            and OPENBLAS_DIR not in os.environ.get("LD_LIBRARY_PATH", "")):
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = OPENBLAS_DIR + (
            ":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
        if has_avx512():
            env["OPENBLAS_CORETYPE"] = "SkylakeX"
        os.execve(sys.executable, [sys.executable] + sys.argv, env)


def using_openblas():
    return OPENBLAS_DIR in os.environ.get("LD_LIBRARY_PATH", "")


def blas_name():
    """PyTorch's BLAS, for the benchmarks' headers."""
    if not using_openblas():
        return "Debian default (slow reference BLAS)"
    core = os.environ.get("OPENBLAS_CORETYPE")
    return "OpenBLAS" + (" (%s kernels)" % core if core else "")


def times_ms(fn, repeats):
    """The wall times in ms of `repeats` calls of fn, after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def time_ms(fn, repeats):
    """The median wall time of `repeats` calls of fn, after one warm-up."""
    return statistics.median(times_ms(fn, repeats))
