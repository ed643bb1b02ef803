#!/usr/bin/python3
"""GPT-2-small with and without llm-opt's fusion passes, next to PyTorch.

    /usr/bin/python3 bench/fusion_gpt2_small.py [--llm-compile build/bin/llm-compile]
        [--work /tmp/llm-bench-fusion] [--tokens 1024] [--layers 12]
        [--threads 1,2] [--repeats 3] [--no-train]

Compiles the GPT-2-small model of bench/gpt2_small.py twice with `llm-compile
--train --generation=false`: once as by default (every fusion on) and once
with every fusion off: `--fuse-attention=false` (attention materializes its
[tokens x tokens] scores per head), `--fuse-epilogue=false` (residual adds and
activations run as loops of their own over the projections' outputs),
`--fuse-norm=false` (a LayerNorm's statistics and the norm as separate
passes over the rows), `--fuse-qkv=false` (GPT-2 has one c_attn: nothing
to merge) and `--lm-head-chunk=0` (the training step's LM head, loss and
their gradients as whole-tensor ops over [tokens x vocab] logits, not one
loop over chunks of rows). Times the forward and the training step (batch 1, --tokens
tokens) of both builds at each thread count, next to PyTorch's forward and
its training step (autograd + AdamW, as in bench/train_gpt2_small.py) on the
same weights and in the same run, with OpenBLAS when it is installed.
Prints the median ms, fused vs unfused, each vs PyTorch, the fraction of the
FP32 peak, the arena each build plans (manifest), and the max scaled error
of both builds' logits against PyTorch's.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # noqa: E402

bench_common.use_openblas()

import torch  # noqa: E402

from gpt2_small import (GPT2_SMALL, PEAK_GFLOPS_PER_CORE, ROOT,  # noqa: E402
                        build_gpt2_small, forward_flops)
from llm_artifact import Artifact, max_scaled_error, param_array  # noqa: E402
from llm_ref import models  # noqa: E402
from train_gpt2_small import TorchStep, llm_step  # noqa: E402

BUILDS = (("fused", ()),
          ("unfused", ("--fuse-attention=false", "--fuse-epilogue=false",
                       "--fuse-norm=false", "--fuse-qkv=false",
                       "--lm-head-chunk=0")))


def arena_mib(out, entry):
    with open(os.path.join(out, "manifest.json")) as f:
        manifest = json.load(f)
    for e in manifest["entry_points"]:
        if e["name"] == entry and e.get("arena"):
            a = e["arena"]
            return (a["fixed_bytes"] + a["bytes_per_sequence"]) / 2 ** 20
    return float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm-compile",
                        default=os.path.join(ROOT, "build", "bin", "llm-compile"))
    parser.add_argument("--work", default="/tmp/llm-bench-fusion")
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-train", action="store_true",
                        help="time the forward only")
    args = parser.parse_args()
    d, heads, vocab = GPT2_SMALL["d"], GPT2_SMALL["heads"], GPT2_SMALL["vocab"]
    threads = [int(n) for n in args.threads.split(",")]

    builds = {}
    for name, extra in BUILDS:
        config, state, out, seconds = build_gpt2_small(
            args.llm_compile, os.path.join(args.work, name), args.layers,
            compile_args=("--train", "--generation=false") + extra)
        builds[name] = (Artifact(out), out, seconds)
    torch.manual_seed(0)
    tokens = torch.randint(0, vocab, (1, args.tokens + 1), dtype=torch.int64)
    ids, labels = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()
    with torch.no_grad():
        want = models.gpt2_forward(config, state, ids).numpy()

    print("GPT-2-small shape: %d layers, d_model %d, %d heads, vocab %d, batch 1, "
          "%d tokens, fp32" % (args.layers, d, heads, vocab, args.tokens))
    print("torch %s, BLAS: %s" % (torch.__version__,
                                   bench_common.blas_name()))
    forwards, steps = {}, {}
    for name, (artifact, out, seconds) in builds.items():
        inputs = [ids.numpy()]
        for spec in artifact.entries["forward"]["inputs"][1:]:
            if spec["kind"] == "param":
                inputs.append(param_array(spec, state, lambda t: t.numpy()))
        inputs = artifact.prepare("forward", *inputs)
        error = max_scaled_error(artifact.call("forward", *inputs, prepared=True), want)
        forwards[name] = lambda a=artifact, i=inputs: a.call("forward", *i, prepared=True)
        if not args.no_train:
            steps[name] = llm_step(artifact, state, ids, labels)
        print("%-8s llm-compile %.0f s; arenas: forward %.1f MiB, train_step %.1f MiB; "
              "logits vs PyTorch: max scaled error %.2e"
              % (name, seconds, arena_mib(out, "forward"),
                 arena_mib(out, "train_step"), error))

    flops = {"forward": forward_flops(args.layers, d, vocab, args.tokens)}
    flops["train_step"] = 3 * flops["forward"]
    print("%-10s %-8s %-9s %10s %11s %9s %9s" % (
        "entry", "threads", "system", "ms", "vs unfused", "vs torch", "of peak"))
    for n in threads:
        torch.set_num_threads(n)
        for entry, calls in (("forward", forwards), ("train_step", steps)):
            if not calls:
                continue
            for artifact, _, _ in builds.values():
                artifact.set_threads(n)
            times = {name: bench_common.time_ms(fn, args.repeats)
                     for name, fn in calls.items()}
            if entry == "forward":
                with torch.no_grad():
                    times["pytorch"] = bench_common.time_ms(
                        lambda: models.gpt2_forward(config, state, ids), args.repeats)
            else:
                times["pytorch"] = bench_common.time_ms(
                    TorchStep(config, state, ids, labels), args.repeats)
            for name, ms in times.items():
                gflops = flops[entry] / ms / 1e6
                vs_unfused = ("%.2fx" % (times["unfused"] / ms)
                              if name != "unfused" else "-")
                print("%-10s %-8d %-9s %10.1f %11s %8.2fx %8.1f%%" % (
                    entry, n, name, ms, vs_unfused, times["pytorch"] / ms,
                    100 * gflops / (PEAK_GFLOPS_PER_CORE * n)))
    print("(vs X: X's time / this time, >1 is faster; peak: %.0f GFLOP/s per core; "
          "FLOPs count the full attention square)" % PEAK_GFLOPS_PER_CORE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
