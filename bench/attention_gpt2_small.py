#!/usr/bin/python3
"""One GPT-2-small attention layer: fused, unfused and PyTorch, same run.

    /usr/bin/python3 bench/attention_gpt2_small.py [--llm-compile build/bin/llm-compile]
        [--work /tmp/llm-bench-attention] [--tokens 1024,4096] [--threads 1,2]
        [--repeats 5]

Compiles one causal `llm.attention` of the GPT-2-small shape (12 heads of
64, batch 1) twice: as llm-compile does by default (llm-fuse-attention: the
tiled online softmax) and with `--fuse-attention=false` (the [S x S] scores
of each head materialized, then a softmax over each row). Times both on the
same random q, k, v at each token count and thread count, next to PyTorch
computing the same attention as utils/llm_ref/models.py does (Q K^T, causal
mask, softmax, times V; OpenBLAS when installed). Prints the minimum and the
median ms of --repeats calls, the ratios, and the max scaled error of each
against the fused output. The unfused build at 4096 tokens needs ~800 MB for
its scores and takes tens of seconds per call.
"""

import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # noqa: E402

bench_common.use_openblas()

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import llm_artifact  # noqa: E402

HEADS, HEAD_DIM = 12, 64
D = HEADS * HEAD_DIM
MLIR = """func.func @forward(%q: tensor<?x?x{d}xf32>, %k: tensor<?x?x{d}xf32>,
                    %v: tensor<?x?x{d}xf32>) -> tensor<?x?x{d}xf32> {{
  %0 = llm.attention %q, %k, %v {{causal, num_heads = {h} : i64}} : (tensor<?x?x{d}xf32>, tensor<?x?x{d}xf32>, tensor<?x?x{d}xf32>) -> tensor<?x?x{d}xf32>
  return %0 : tensor<?x?x{d}xf32>
}}
""".format(d=D, h=HEADS)


def torch_attention(q, k, v):
    s = q.shape[1]
    qh, kh, vh = (x.view(1, s, HEADS, HEAD_DIM).transpose(1, 2) for x in (q, k, v))
    scores = qh @ kh.transpose(-1, -2) / math.sqrt(HEAD_DIM)
    future = torch.ones(s, s, dtype=torch.bool).triu(1)
    scores = scores.masked_fill(future, float("-inf"))
    return (torch.softmax(scores, -1) @ vh).transpose(1, 2).reshape(1, s, D)


def timings(fn, repeats):
    """(min, median) ms of `repeats` calls after a warm-up."""
    times = sorted(bench_common.times_ms(fn, repeats))
    return times[0], times[len(times) // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm-compile",
                        default=os.path.join(ROOT, "build", "bin", "llm-compile"))
    parser.add_argument("--work", default="/tmp/llm-bench-attention")
    parser.add_argument("--tokens", default="1024,4096")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    builds = {
        "fused": llm_artifact.compile_mlir(
            args.llm_compile, MLIR, os.path.join(args.work, "fused")),
        "unfused": llm_artifact.compile_mlir(
            args.llm_compile, MLIR, os.path.join(args.work, "unfused"),
            ["--fuse-attention=false"]),
    }
    print("GPT-2-small attention: %d heads of %d, causal, batch 1, fp32; torch %s, "
          "BLAS: %s" % (HEADS, HEAD_DIM, torch.__version__,
                        bench_common.blas_name()))
    print("%-7s %-8s %-9s %10s %10s %11s %9s %10s" % (
        "tokens", "threads", "system", "min ms", "median ms", "vs unfused",
        "vs torch", "error"))
    rng = np.random.RandomState(0)
    for tokens in [int(t) for t in args.tokens.split(",")]:
        q, k, v = (rng.standard_normal((1, tokens, D)).astype(np.float32)
                   for _ in range(3))
        reference = builds["fused"].call("forward", q, k, v)
        errors = {name: llm_artifact.max_scaled_error(
            art.call("forward", q, k, v), reference) for name, art in builds.items()}
        tq, tk, tv = (torch.from_numpy(x) for x in (q, k, v))
        with torch.no_grad():
            errors["pytorch"] = llm_artifact.max_scaled_error(
                torch_attention(tq, tk, tv).numpy(), reference)
        for n in [int(t) for t in args.threads.split(",")]:
            results = {}
            for name, art in builds.items():
                art.set_threads(n)
                results[name] = timings(lambda a=art: a.call("forward", q, k, v),
                                        args.repeats)
            torch.set_num_threads(n)
            with torch.no_grad():
                results["pytorch"] = timings(lambda: torch_attention(tq, tk, tv),
                                             args.repeats)
            for name, (best, median) in results.items():
                print("%-7d %-8d %-9s %10.1f %10.1f %10.2fx %8.2fx %10.1e" % (
                    tokens, n, name, best, median, results["unfused"][1] / median,
                    results["pytorch"][1] / median, errors[name]))
    print("(vs X: X's median / this median, >1 is faster; error: max scaled "
          "difference from the fused output)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
