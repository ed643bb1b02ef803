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


def use_openblas():
    """Debian's torch uses the reference BLAS; when OpenBLAS
    (libopenblas0-openmp) is installed, re-executes the script with
    LD_LIBRARY_PATH pointing at it, so that PyTorch is a fair peer."""
    if (os.path.isdir(OPENBLAS_DIR)
            and OPENBLAS_DIR not in os.environ.get("LD_LIBRARY_PATH", "")):
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = OPENBLAS_DIR + (
            ":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
        os.execve(sys.executable, [sys.executable] + sys.argv, env)


def using_openblas():
    return OPENBLAS_DIR in os.environ.get("LD_LIBRARY_PATH", "")


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
