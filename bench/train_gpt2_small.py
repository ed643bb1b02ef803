#!/usr/bin/python3
"""GPT-2-small training step: llm-opt's compiled train_step next to PyTorch's
autograd + AdamW, same run.

    /usr/bin/python3 bench/train_gpt2_small.py [--llm-compile build/bin/llm-compile]
        [--work /tmp/llm-bench-train] [--tokens 128] [--layers 12]
        [--threads 1,2] [--repeats 5]

Compiles the GPT-2-small model of bench/gpt2_small.py with `llm-compile
--train` (forward, mean cross-entropy, backward, global-norm clipping and
AdamW with weight decay on the matrices, parameters and moments updated in
place: one entry point) and times one step on batch 1 x --tokens tokens at
each thread count. PyTorch runs the same step on the same weights: the
reference forward (utils/llm_ref/models.py), F.cross_entropy, backward,
clip_grad_norm_ and torch.optim.AdamW (same parameter groups), with
OpenBLAS when it is installed (bench_common.use_openblas). Before timing,
the first step's loss and gradient norm of both are compared with a float64
PyTorch step (llm-opt's must be within 1e-3).

Prints the median ms per step, tokens/s, the ratio to PyTorch, GFLOP/s
(3x the forward's FLOPs: the backward computes two products per forward
product) and the fraction of the FP32 peak.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # noqa: E402

bench_common.use_openblas()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from gpt2_small import (GPT2_SMALL, PEAK_GFLOPS_PER_CORE, ROOT,  # noqa: E402
                        build_gpt2_small, forward_flops)
from llm_artifact import Artifact  # noqa: E402
from llm_ref import models  # noqa: E402

LR, BETAS, EPS, DECAY, MAX_NORM = 1e-4, (0.9, 0.95), 1e-8, 0.1, 1.0


class TorchStep:
    """One PyTorch training step on its own copy of the weights."""

    def __init__(self, config, state, ids, labels):
        self.config, self.ids, self.labels = config, ids, labels
        self.params = {k: torch.nn.Parameter(v.detach().clone().float())
                       for k, v in state.items() if v.is_floating_point()}
        groups = [{"params": [p for p in self.params.values() if p.dim() >= 2],
                   "weight_decay": DECAY},
                  {"params": [p for p in self.params.values() if p.dim() < 2],
                   "weight_decay": 0.0}]
        self.optimizer = torch.optim.AdamW(groups, lr=LR, betas=BETAS, eps=EPS)

    def __call__(self):
        logits = models.gpt2_forward(self.config, self.params, self.ids)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                               self.labels.reshape(-1))
        self.optimizer.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(list(self.params.values()), MAX_NORM)
        self.optimizer.step()
        return float(loss), float(norm)


def float64_step(config, state, ids, labels):
    """The first step's loss and gradient norm in float64."""
    params = {k: v.detach().to(torch.float64).requires_grad_(True)
              for k, v in state.items() if v.is_floating_point()}
    logits = models.gpt2_forward(config, params, ids)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))
    loss.backward()
    norm = sum(float(p.grad.double().pow(2).sum()) for p in params.values()) ** 0.5
    return float(loss), norm


def llm_step(artifact, state, ids, labels):
    """train_step bound to its own copy of the weights and zeroed moments;
    the bias corrections advance with each call, as the runtime's do."""
    entry = artifact.entries["train_step"]
    settings = np.zeros(8, dtype=np.float32)
    values = []
    for spec in entry["inputs"]:
        kind = spec["kind"]
        if kind == "param":
            values.append(np.ascontiguousarray(state[spec["name"]].float().numpy()).copy())
        elif kind == "optimizer_state":
            values.append(np.zeros(spec["shape"], dtype=np.float32))
        elif kind == "labels":
            values.append(labels.numpy())
        elif kind == "optimizer":
            values.append(settings)
        else:
            values.append(ids.numpy())
    arrays = artifact.prepare("train_step", *values)
    settings = arrays[[s["kind"] for s in entry["inputs"]].index("optimizer")]
    run = artifact.bind("train_step", *arrays, prepared=True)
    step = [0]

    def call():
        step[0] += 1
        t = step[0]
        settings[:] = [LR, BETAS[0], BETAS[1], EPS, DECAY, 1 - BETAS[0] ** t,
                       1 - BETAS[1] ** t, MAX_NORM]
        loss, norm = run()
        return float(loss), float(norm)
    return call


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm-compile",
                        default=os.path.join(ROOT, "build", "bin", "llm-compile"))
    parser.add_argument("--work", default="/tmp/llm-bench-train")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    d, heads, vocab = GPT2_SMALL["d"], GPT2_SMALL["heads"], GPT2_SMALL["vocab"]
    threads = [int(n) for n in args.threads.split(",")]

    config, state, out, compile_s = build_gpt2_small(
        args.llm_compile, args.work, args.layers,
        compile_args=("--train", "--generation=false"))
    torch.manual_seed(0)
    tokens = torch.randint(0, vocab, (1, args.tokens + 1), dtype=torch.int64)
    ids, labels = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()
    artifact = Artifact(out)
    ours, theirs = llm_step(artifact, state, ids, labels), TorchStep(config, state, ids, labels)
    (our_loss, our_norm), (their_loss, their_norm) = ours(), theirs()
    # float32 gradients of a 50257-way softmax differ by ~1e-4 between any
    # two summation orders: both first steps are measured against float64.
    exact_loss, exact_norm = float64_step(config, state, ids, labels)
    loss_error = abs(our_loss - exact_loss) / exact_loss
    norm_error = abs(our_norm - exact_norm) / exact_norm

    flops = 3 * forward_flops(args.layers, d, vocab, args.tokens)
    print("GPT-2-small shape: %d layers, d_model %d, %d heads, vocab %d, batch 1, "
          "%d tokens, fp32; %.1f GFLOP per training step"
          % (args.layers, d, heads, vocab, args.tokens, flops / 1e9))
    print("llm-compile --train: %.1f s" % compile_s)
    print("first step vs float64 PyTorch: loss %.6f, llm-opt %.6f (%.1e), PyTorch "
          "%.6f (%.1e); grad norm %.5f, llm-opt %.5f (%.1e), PyTorch %.5f (%.1e)"
          % (exact_loss, our_loss, loss_error, their_loss,
             abs(their_loss - exact_loss) / exact_loss, exact_norm, our_norm, norm_error,
             their_norm, abs(their_norm - exact_norm) / exact_norm))
    print("torch %s, BLAS: %s" % (torch.__version__,
                                   bench_common.blas_name()))
    print("%-8s %-10s %10s %10s %10s %9s %9s" % (
        "threads", "system", "ms/step", "tokens/s", "vs torch", "GFLOP/s", "of peak"))
    for n in threads:
        artifact.set_threads(n)
        torch.set_num_threads(n)
        times = {"llm-opt": bench_common.time_ms(ours, args.repeats),
                 "pytorch": bench_common.time_ms(theirs, args.repeats)}
        peak = PEAK_GFLOPS_PER_CORE * n
        for name, ms in times.items():
            gflops = flops / ms / 1e6
            print("%-8d %-10s %10.1f %10.1f %9.2fx %9.1f %8.1f%%" % (
                n, name, ms, args.tokens / ms * 1e3, times["pytorch"] / ms, gflops,
                100 * gflops / peak))
    print("(vs torch: PyTorch's time / this time, >1 is faster than PyTorch; "
          "peak: %.0f GFLOP/s per core)" % PEAK_GFLOPS_PER_CORE)
    if loss_error > 1e-3 or norm_error > 1e-3:
        print("FAIL: the first step differs from float64 PyTorch's")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
