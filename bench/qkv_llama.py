#!/usr/bin/python3
"""A LLaMA-shaped model with and without llm-fuse-qkv, next to PyTorch.

    /usr/bin/python3 bench/qkv_llama.py [--llm-compile build/bin/llm-compile]
        [--work /tmp/llm-bench-qkv] [--layers 4] [--tokens 1,128]
        [--threads 1,2] [--repeats 7]

Writes a LLaMA-style Hugging Face folder (utils/make-tiny-model.py: d_model
768, 12 heads, 4 KV heads, SwiGLU of 2048, vocab 1024, random weights) and
compiles it three times with llm-compile: as by default (Q, K and V of each
layer one projection over a weight the runtime concatenates when it binds
the checkpoint, and the MLP's gate and up projections one too), with
`--fuse-gate-up=false` (Q, K and V only: "qkv-only") and with
`--fuse-qkv=false` (every projection alone). Times the forward of the
builds (batch 1; 1 token, where per-projection overhead shows as in a
decode step, and 128), alternating the builds call by call, next to
PyTorch's forward of utils/llm_ref on the same weights in the same run.
Prints min and median ms, the ratios, and each build's max scaled error
against PyTorch.
"""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # noqa: E402

bench_common.use_openblas()

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
sys.path.insert(0, os.path.join(ROOT, "utils"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import llm_artifact  # noqa: E402
from llm_ref import models, safetensors_io  # noqa: E402

BUILDS = (("fused", ()), ("qkv-only", ("--fuse-gate-up=false",)),
          ("unfused", ("--fuse-qkv=false",)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm-compile",
                        default=os.path.join(ROOT, "build", "bin", "llm-compile"))
    parser.add_argument("--work", default="/tmp/llm-bench-qkv")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--tokens", default="1,128")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    token_counts = [int(n) for n in args.tokens.split(",")]
    threads = [int(n) for n in args.threads.split(",")]

    weights = os.path.join(args.work, "llama")
    subprocess.run([sys.executable, os.path.join(ROOT, "utils", "make-tiny-model.py"),
                    "--family", "llama", "--out", weights, "--layers", str(args.layers),
                    "--hidden", "768", "--heads", "12", "--kv-heads", "4",
                    "--intermediate", "2048", "--vocab", "1024",
                    "--ctx", str(max(token_counts))],
                   check=True, stdout=subprocess.DEVNULL)
    config, state = models.load_model_dir(weights)
    raw = safetensors_io.load_checkpoint_dir(weights)

    builds = {}
    for name, extra in BUILDS:
        out = os.path.join(args.work, name)
        start = time.perf_counter()
        subprocess.run([args.llm_compile, weights, "-o", out, "--generation=false",
                        *extra], check=True, stdout=subprocess.DEVNULL)
        artifact = llm_artifact.Artifact(out)
        params = [llm_artifact.param_array(spec, raw, lambda t: t.float().numpy())
                  for spec in artifact.entries["forward"]["inputs"][1:]]
        projections = sum(1 for spec in artifact.entries["forward"]["inputs"]
                          if spec["kind"] == "param" and len(spec["shape"]) == 2)
        builds[name] = (artifact, params)
        print("%-8s llm-compile %.0f s; %d 2-D params"
              % (name, time.perf_counter() - start, projections))

    print("LLaMA shape: %d layers, d_model 768, 12 heads (4 KV), SwiGLU 2048, "
          "vocab 1024, batch 1, fp32; torch %s, BLAS: %s"
          % (args.layers, torch.__version__,
             bench_common.blas_name()))
    print("%-7s %-8s %-8s %9s %9s %10s %10s %9s %10s" % (
        "tokens", "threads", "system", "min ms", "median", "vs unfused",
        "vs qkv-only", "vs torch", "error"))
    rng = np.random.RandomState(0)
    for tokens in token_counts:
        ids = rng.randint(0, 1024, size=(1, tokens)).astype(np.int64)
        with torch.no_grad():
            want = models.forward(config, state, torch.tensor(ids)).double().numpy()
        calls, errors = {}, {}
        for name, (artifact, params) in builds.items():
            inputs = artifact.prepare("forward", ids, *params)
            errors[name] = llm_artifact.max_scaled_error(
                artifact.call("forward", *inputs, prepared=True), want)
            calls[name] = artifact.bind("forward", *inputs, prepared=True)
        for n in threads:
            torch.set_num_threads(n)
            for artifact, _ in builds.values():
                artifact.set_threads(n)
            # Alternate the builds call by call: the machine's noise hits both.
            samples = {name: [] for name in calls}
            for _ in range(args.repeats):
                for name, fn in calls.items():
                    samples[name].extend(bench_common.times_ms(fn, 1))
            with torch.no_grad():
                samples["pytorch"] = bench_common.times_ms(
                    lambda: models.forward(config, state, torch.tensor(ids)),
                    args.repeats)
            stats = {name: (min(t), sorted(t)[len(t) // 2])
                     for name, t in samples.items()}
            def versus(other, name, median):
                return ("%.2fx" % (stats[other][1] / median)
                        if name != other else "-")
            for name, (low, median) in stats.items():
                print("%-7d %-8d %-8s %9.2f %9.2f %10s %10s %8.2fx %10s" % (
                    tokens, n, name, low, median,
                    versus("unfused", name, median),
                    versus("qkv-only", name, median),
                    stats["pytorch"][1] / median,
                    "%.1e" % errors[name] if name in errors else "-"))
    print("(vs X: X's median / this median, >1 is faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
