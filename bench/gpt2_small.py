#!/usr/bin/python3
"""GPT-2-small forward: llm-opt's compiled code next to PyTorch, same run.

    /usr/bin/python3 bench/gpt2_small.py [--llm-compile build/bin/llm-compile]
        [--work /tmp/llm-bench-gpt2] [--tokens 128] [--layers 12]
        [--threads 1,2] [--repeats 7]

Writes the GPT-2-small model (12 layers, d_model 768, 12 heads, vocab 50257,
context 1024; HF parameter names and layouts, tied LM head) as llm IR,
compiles it with llm-compile (timed), binds random weights through the
artifact ABI (test/e2e/llm_artifact.py) and times the forward over batch 1
and --tokens tokens at each thread count, next to the PyTorch reference
forward (utils/llm_ref/models.py) on the same weights. Prints the median ms,
the ratio to PyTorch, GFLOP/s, the fraction of the FP32 peak and the max
scaled error of the logits against PyTorch's.

Debian's torch uses the reference BLAS; for a fair peer the script re-runs
itself with LD_LIBRARY_PATH pointing at OpenBLAS (libopenblas0-openmp) when
that is installed.
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

import numpy as np  # noqa: E402
import torch  # noqa: E402

from llm_artifact import Artifact, max_scaled_error, param_array  # noqa: E402
from llm_ref import models  # noqa: E402

# One core's AVX-512 FP32 peak here (../shared/PEERS.md).
PEAK_GFLOPS_PER_CORE = 230.0


def gpt2_mlir(layers, d, heads, vocab, ctx):
    """GPT-2 in the llm dialect (the structure of examples/gpt2-tiny)."""
    f = 4 * d
    t = lambda *s: "tensor<%sxf32>" % "x".join(str(x) for x in s)  # noqa: E731
    act = "tensor<?x?x%dxf32>" % d
    args = ["%ids: tensor<?x?xi64>",
            '%%wte: %s {llm.param = "transformer.wte.weight"}' % t(vocab, d),
            '%%wpe: %s {llm.param = "transformer.wpe.weight"}' % t(ctx, d)]
    body = []
    for i in range(layers):
        p = "transformer.h.%d." % i
        for name, shape in [("ln_1.weight", (d,)), ("ln_1.bias", (d,)),
                            ("attn.c_attn.weight", (d, 3 * d)),
                            ("attn.c_attn.bias", (3 * d,)),
                            ("attn.c_proj.weight", (d, d)),
                            ("attn.c_proj.bias", (d,)),
                            ("ln_2.weight", (d,)), ("ln_2.bias", (d,)),
                            ("mlp.c_fc.weight", (d, f)), ("mlp.c_fc.bias", (f,)),
                            ("mlp.c_proj.weight", (f, d)),
                            ("mlp.c_proj.bias", (d,))]:
            var = "%%%s_%d" % (name.replace(".", "_"), i)
            args.append('%s: %s {llm.param = "%s%s"}' % (var, t(*shape), p, name))
    args += ['%%lnf_w: %s {llm.param = "transformer.ln_f.weight"}' % t(d),
             '%%lnf_b: %s {llm.param = "transformer.ln_f.bias"}' % t(d)]
    qkv = "tensor<?x?x%dxf32>" % (3 * d)
    body.append("  %%h = llm.embedding %%wte[%%ids] : (%s, tensor<?x?xi64>) -> %s"
                % (t(vocab, d), act))
    body.append("  %%x_0 = llm.positional_encoding learned %%h table %%wpe : "
                "(%s, %s) -> %s" % (act, t(ctx, d), act))
    body.append("  %c0 = arith.constant 0 : index")
    body.append("  %c1 = arith.constant 1 : index")
    for i in range(layers):
        v = lambda n: "%%%s_%d" % (n, i)  # noqa: E731
        x, nx = "%%x_%d" % i, "%%x_%d" % (i + 1)
        body += [
            "  %s = llm.layer_norm %s weight %s bias %s : (%s, %s, %s) -> %s"
            % (v("a"), x, v("ln_1_weight"), v("ln_1_bias"), act, t(d), t(d), act),
            "  %s = llm.linear %s, %s bias %s layout in_out : (%s, %s, %s) -> %s"
            % (v("qkv"), v("a"), v("attn_c_attn_weight"), v("attn_c_attn_bias"),
               act, t(d, 3 * d), t(3 * d), qkv),
            "  %s = tensor.dim %s, %%c0 : %s" % (v("b"), v("qkv"), qkv),
            "  %s = tensor.dim %s, %%c1 : %s" % (v("s"), v("qkv"), qkv),
        ]
        for j, n in enumerate("qkv"):
            body.append(
                "  %s = tensor.extract_slice %s[0, 0, %d] [%s, %s, %d] [1, 1, 1]"
                " : %s to %s" % (v(n), v("qkv"), j * d, v("b"), v("s"), d, qkv, act))
        body += [
            "  %s = llm.attention %s, %s, %s {causal, num_heads = %d : i64} : "
            "(%s, %s, %s) -> %s" % (v("att"), v("q"), v("k"), v("v"), heads,
                                    act, act, act, act),
            "  %s = llm.linear %s, %s bias %s layout in_out : (%s, %s, %s) -> %s"
            % (v("o"), v("att"), v("attn_c_proj_weight"), v("attn_c_proj_bias"),
               act, t(d, d), t(d), act),
            "  %s = arith.addf %s, %s : %s" % (v("r"), x, v("o"), act),
            "  %s = llm.layer_norm %s weight %s bias %s : (%s, %s, %s) -> %s"
            % (v("m"), v("r"), v("ln_2_weight"), v("ln_2_bias"), act, t(d), t(d), act),
            "  %s = llm.ffn gelu_tanh %s up %s bias %s down %s bias %s layout in_out"
            " : (%s, %s, %s, %s, %s) -> %s"
            % (v("f"), v("m"), v("mlp_c_fc_weight"), v("mlp_c_fc_bias"),
               v("mlp_c_proj_weight"), v("mlp_c_proj_bias"),
               act, t(d, f), t(f), t(f, d), t(d), act),
            "  %s = arith.addf %s, %s : %s" % (nx, v("r"), v("f"), act),
        ]
    logits = "tensor<?x?x%dxf32>" % vocab
    body += [
        "  %%hf = llm.layer_norm %%x_%d weight %%lnf_w bias %%lnf_b : (%s, %s, %s) -> %s"
        % (layers, act, t(d), t(d), act),
        "  %%logits = llm.linear %%hf, %%wte : (%s, %s) -> %s" % (act, t(vocab, d), logits),
        "  return %%logits : %s" % logits,
    ]
    return ("// GPT-2 (%d layers, d_model %d, %d heads, vocab %d), written by "
            "bench/gpt2_small.py.\nfunc.func @forward(\n    %s)\n    -> %s {\n%s\n}\n"
            % (layers, d, heads, vocab, ",\n    ".join(args), logits,
               "\n".join(body)))


GPT2_SMALL = {"d": 768, "heads": 12, "vocab": 50257, "ctx": 1024}


def build_gpt2_small(llm_compile, work, layers, compile_args=()):
    """The GPT-2-small config with seeded random weights (HF layout), its
    llm IR compiled by llm-compile (with `compile_args`) into WORK/out.
    Returns (config, state, artifact folder, compile seconds)."""
    d, heads, vocab, ctx = (GPT2_SMALL[k] for k in ("d", "heads", "vocab", "ctx"))
    config = models.default_config("gpt2", layers=layers, hidden=d,
                                   heads=heads, vocab=vocab, ctx=ctx)
    state = models.init_state_dict(config, seed=0)
    os.makedirs(work, exist_ok=True)
    source = os.path.join(work, "gpt2_small.mlir")
    with open(source, "w") as f:
        f.write(gpt2_mlir(layers, d, heads, vocab, ctx))
    out = os.path.join(work, "out")
    start = time.perf_counter()
    subprocess.run([llm_compile, source, "-o", out, *compile_args],
                   check=True, stdout=subprocess.DEVNULL)
    return config, state, out, time.perf_counter() - start


def forward_flops(layers, d, vocab, tokens):
    """Multiply-adds x 2 of the projections, attention (full square, as both
    implementations compute it) and the LM head; norms etc. are noise."""
    proj = 2 * tokens * (d * 3 * d + d * d + d * 4 * d + 4 * d * d)
    attn = 2 * 2 * tokens * tokens * d
    head = 2 * tokens * d * vocab
    return layers * (proj + attn) + head


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm-compile",
                        default=os.path.join(ROOT, "build", "bin", "llm-compile"))
    parser.add_argument("--work", default="/tmp/llm-bench-gpt2")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip-torch", action="store_true",
                        help="time only llm-opt (the error check still runs)")
    args = parser.parse_args()
    d, heads, vocab = GPT2_SMALL["d"], GPT2_SMALL["heads"], GPT2_SMALL["vocab"]
    threads = [int(n) for n in args.threads.split(",")]

    config, state, out, compile_s = build_gpt2_small(args.llm_compile, args.work,
                                                     args.layers)
    torch.manual_seed(0)
    ids = torch.randint(0, vocab, (1, args.tokens), dtype=torch.int64)
    artifact = Artifact(out)
    inputs = [ids.numpy()]
    for spec in artifact.entries["forward"]["inputs"][1:]:
        tensor = param_array(spec, state, lambda t: t.numpy())
        assert list(tensor.shape) == spec["shape"], spec["name"]
        inputs.append(tensor)

    with torch.no_grad():
        want = models.gpt2_forward(config, state, ids).numpy()
    # Packed params are packed once, as the runtime does when it binds them.
    inputs = artifact.prepare("forward", *inputs)
    got = artifact.call("forward", *inputs, prepared=True)
    error = max_scaled_error(got, want)

    flops = forward_flops(args.layers, d, vocab, args.tokens)
    print("GPT-2-small shape: %d layers, d_model %d, %d heads, vocab %d, "
          "batch 1, %d tokens, fp32; %.1f GFLOP per forward"
          % (args.layers, d, heads, vocab, args.tokens, flops / 1e9))
    print("llm-compile: %.1f s; max scaled error of the logits vs PyTorch: %.2e"
          % (compile_s, error))
    print("torch %s, BLAS: %s" % (torch.__version__,
                                   bench_common.blas_name()))
    header = "%-8s %-10s %10s %10s %9s %9s %8s" % (
        "threads", "system", "ms", "vs torch", "GFLOP/s", "of peak", "")
    print(header)
    for n in threads:
        artifact.set_threads(n)
        ours = bench_common.time_ms(lambda: artifact.call("forward", *inputs, prepared=True),
                       args.repeats)
        theirs = None
        if not args.skip_torch:
            torch.set_num_threads(n)
            with torch.no_grad():
                theirs = bench_common.time_ms(lambda: models.gpt2_forward(config, state, ids),
                                 args.repeats)
        peak = PEAK_GFLOPS_PER_CORE * n
        for name, ms in [("llm-opt", ours), ("pytorch", theirs)]:
            if ms is None:
                continue
            gflops = flops / ms / 1e6
            ratio = ("%.2fx" % (theirs / ms)) if theirs else "-"
            print("%-8d %-10s %10.1f %10s %9.1f %8.1f%%" % (
                n, name, ms, ratio, gflops, 100 * gflops / peak))
    print("(vs torch: PyTorch's time / this time, >1 is faster than PyTorch; "
          "peak: %.0f GFLOP/s per core)" % PEAK_GFLOPS_PER_CORE)
    if error > 1e-3:
        print("FAIL: logits differ from PyTorch (max scaled error %.2e)" % error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
