#!/usr/bin/python3
"""GPT-2-small exported to ONNX: llm-opt, ONNX Runtime and PyTorch, same run.

    /usr/bin/python3 bench/onnx_gpt2_small.py [--llm-compile build/bin/llm-compile]
        [--work /tmp/llm-bench-onnx-gpt2] [--tokens 128] [--layers 12]
        [--opset 17] [--threads 1,2] [--repeats 7]

Exports the GPT-2-small shape (12 layers, d_model 768, 12 heads, vocab
50257, context 1024; random weights) with torch.onnx.export and dynamic axes
(utils/export_onnx_models.py), compiles model.onnx with llm-compile (timed;
the importer raises it to llm ops), and times the forward over batch 1 and
--tokens tokens at each thread count for llm-opt (artifact ABI, weights
packed once at bind), ONNX Runtime (onnxruntime-node, utils/ort; full graph
optimizations) and PyTorch (the reference forward on the same weights,
OpenBLAS when installed). Prints the median ms, the ratios and the logits'
max scaled error against both peers. Needs utils/ort/setup.sh.
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
sys.path.insert(0, os.path.join(ROOT, "utils"))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))

import json  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from llm_artifact import Artifact, max_scaled_error, param_array  # noqa: E402
from llm_ref import models, safetensors_io  # noqa: E402
from ort_peer import ort_available, run_ort_timed  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm-compile",
                        default=os.path.join(ROOT, "build", "bin", "llm-compile"))
    parser.add_argument("--work", default="/tmp/llm-bench-onnx-gpt2")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=2,
                        help="time every system this many times per thread "
                        "count, in turns, and keep each one's best median "
                        "(the machine's noise hits the systems unevenly)")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse the export and the artifact in --work "
                        "from an earlier run of the same llm-opt build")
    args = parser.parse_args()
    if not ort_available():
        print("onnx bench: onnxruntime-node is not installed (run utils/ort/setup.sh)")
        return 1
    threads = [int(n) for n in args.threads.split(",")]

    folder = os.path.join(args.work, "gpt2-opset%d" % args.opset)
    model = os.path.join(folder, "model.onnx")
    out = os.path.join(args.work, "art")
    reuse = args.reuse and os.path.isfile(model) and os.path.isfile(
        os.path.join(out, "manifest.json"))
    export_s = compile_s = 0.0
    if not reuse:
        start = time.perf_counter()
        subprocess.run([sys.executable, os.path.join(ROOT, "utils", "export_onnx_models.py"),
                        "--out", args.work, "--families", "gpt2", "--opsets", str(args.opset),
                        "--layers", str(args.layers), "--hidden", "768", "--heads", "12",
                        "--vocab", "50257", "--ctx", "1024", "--init-std", "0.02",
                        "--no-ort", "--quiet"], check=True, stdout=subprocess.DEVNULL)
        export_s = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run([args.llm_compile, model, "-o", out], check=True,
                       stdout=subprocess.DEVNULL)
        compile_s = time.perf_counter() - start

    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    state = {k: v.float() for k, v in
             safetensors_io.load_file(os.path.join(folder, "model.safetensors")).items()}
    rng = np.random.default_rng(0)
    ids = rng.integers(0, config["vocab_size"], (1, args.tokens)).astype(np.int64)

    artifact = Artifact(out)
    params = {k: v.float().numpy() for k, v in
              safetensors_io.load_file(os.path.join(out, "model.safetensors")).items()}
    inputs = [ids if spec["kind"] != "param" else param_array(spec, params)
              for spec in artifact.entries["forward"]["inputs"]]
    inputs = artifact.prepare("forward", *inputs)
    got = artifact.call("forward", *inputs, prepared=True)
    with torch.no_grad():
        want = models.gpt2_forward(config, state, torch.from_numpy(ids)).numpy()
    ort_logits, _ = run_ort_timed(model, {"input_ids": ids}, threads=1, repeats=1)

    print("GPT-2-small shape from ONNX (opset %d, torch.onnx.export, dynamic axes): "
          "%d layers, d_model 768, 12 heads, vocab 50257, batch 1, %d tokens, fp32"
          % (args.opset, args.layers, args.tokens))
    if reuse:
        print("export and artifact reused from %s" % args.work)
    else:
        print("export: %.1f s; llm-compile model.onnx: %.1f s" % (export_s, compile_s))
    print("max scaled error of the logits: vs PyTorch %.2e, vs ONNX Runtime %.2e"
          % (max_scaled_error(got, want), max_scaled_error(got, ort_logits[0])))
    print("%-8s %-14s %10s %9s %9s" % ("threads", "system", "ms", "vs ORT", "vs torch"))
    for n in threads:
        ours = ort = theirs = float("inf")
        for _ in range(args.rounds):
            artifact.set_threads(n)
            ours = min(ours, bench_common.time_ms(
                lambda: artifact.call("forward", *inputs, prepared=True), args.repeats))
            _, report = run_ort_timed(model, {"input_ids": ids}, threads=n,
                                      repeats=args.repeats)
            ort = min(ort, report["median_ms"])
            torch.set_num_threads(n)
            with torch.no_grad():
                theirs = min(theirs, bench_common.time_ms(
                    lambda: models.gpt2_forward(config, state, torch.from_numpy(ids)),
                    args.repeats))
        for name, ms in [("llm-opt", ours), ("onnxruntime", ort), ("pytorch", theirs)]:
            print("%-8d %-14s %10.1f %8.2fx %8.2fx" % (n, name, ms, ort / ms, theirs / ms))
    print("(vs X: X's time / this time, >1 is faster than X)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
