"""Whole-model gradients from llm-autodiff against PyTorch autograd.

Usage: model_grads.py LLM_TRANSLATE LLM_OPT LLM_COMPILE REPO_ROOT WORK_DIR

For tiny GPT-2 (tied LM head), BERT (padding mask, two segments) and
LLaMA-style (RMSNorm, RoPE, SwiGLU, GQA) models, and GPT-2 and LLaMA wide
enough for the vector kernels, with random weights in the
Hugging Face layout: the forward imported by `llm-translate --import-hf`,
differentiated by `llm-opt --llm-autodiff` (forward_vjp: logits and the
gradient of every parameter for a seed on the logits), compiled and run;
PyTorch differentiates the reference forward of utils/llm_ref in float64
with the same seed. Every parameter's gradient must match within rtol 1e-3
(max |got - want| / max(1, max |want|)).
"""

import os
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llm_artifact  # noqa: E402

TOLERANCE = 1e-3
LLM_TRANSLATE, LLM_OPT, LLM_COMPILE, ROOT, WORK = sys.argv[1:6]
sys.path.insert(0, os.path.join(ROOT, "utils"))
from llm_ref import models  # noqa: E402


def check(family, *args, label=None):
    label = label or family
    folder = os.path.join(WORK, label)
    subprocess.run([sys.executable, os.path.join(ROOT, "utils", "make-tiny-model.py"),
                    "--family", family, "--out", folder, "--init-std", "0.3", *args],
                   check=True, stdout=subprocess.DEVNULL)
    source, vjp, artifact = folder + ".mlir", folder + ".vjp.mlir", folder + ".art"
    subprocess.run([LLM_TRANSLATE, "--import-hf", folder, "-o", source], check=True)
    subprocess.run([LLM_OPT, "--llm-autodiff=functions=forward", source, "-o", vjp], check=True)
    subprocess.run([LLM_COMPILE, vjp, "-o", artifact, "--generation=false"], check=True,
                   stdout=subprocess.DEVNULL)
    art = llm_artifact.Artifact(artifact)
    config, state = models.load_model_dir(folder)
    rng = np.random.RandomState(1)
    batch, seq = 2, 7
    ids = rng.randint(0, config["vocab_size"], size=(batch, seq)).astype(np.int64)
    kwargs, extra = {}, []
    if family == "bert":
        mask = np.ones((batch, seq), dtype=np.int64)
        mask[1, 4:] = 0
        types = np.zeros((batch, seq), dtype=np.int64)
        types[:, 3:] = 1
        kwargs = {"attention_mask": torch.tensor(mask), "token_type_ids": torch.tensor(types)}
        extra = [mask, types]

    leaves = {k: v.detach().to(torch.float64).requires_grad_(v.is_floating_point())
              for k, v in state.items()}
    # models.forward runs under no_grad; its per-family functions do not.
    logits = models._FORWARD[config["model_type"]](config, leaves, torch.tensor(ids),
                                                  **kwargs)
    seed = rng.standard_normal(logits.shape).astype(np.float32)
    if family == "bert":
        # Padded positions' logits mean nothing: no gradient from them.
        seed[np.asarray(mask) == 0] = 0
    logits.backward(torch.tensor(seed, dtype=torch.float64))

    entry = art.entries["forward_vjp"]
    others = [ids] + extra + [seed]
    params = {k: v.detach().float().numpy() for k, v in state.items()}
    inputs = [llm_artifact.param_array(s, params) if s["kind"] == "param"
              else others.pop(0) for s in entry["inputs"]]
    got = art.call("forward_vjp", *inputs)
    # The gradients follow the logits, one per float argument, in the order
    # of forward's arguments: its params.
    text = open(source).read()
    signature = text[text.index("@forward("):text.index(") ->", text.index("@forward("))]
    names = [part.split('llm.param = "')[1].split('"')[0]
             for part in signature.split("%arg")[1:] if "llm.param" in part]
    grads = got[1:]
    worst, worst_name = 0.0, ""
    for name, grad in zip(names, grads):
        want = leaves[name].grad
        want = np.zeros(grad.shape) if want is None else want.numpy()
        error = llm_artifact.max_scaled_error(grad, want)
        if error > worst:
            worst, worst_name = error, name
    ok = worst <= TOLERANCE and len(grads) == len(names)
    print("%-6s %d parameter gradients, max scaled error %.2e (%s)  %s"
          % (label, len(names), worst, worst_name, "ok" if ok else "FAIL"))
    return ok


def main():
    ok = check("gpt2")
    ok &= check("bert")
    ok &= check("llama", "--kv-heads", "2")
    # Wide enough for the register-tiled kernels (64-column panels, 64-wide
    # heads) rather than their scalar remainders: the weight gradients'
    # transposed contractions and attention's gradients in [B, S, H, D].
    ok &= check("gpt2", "--hidden", "128", "--heads", "2", "--vocab", "300",
                label="gpt2-wide")
    ok &= check("llama", "--hidden", "128", "--heads", "2", "--kv-heads", "1",
                "--intermediate", "192", "--vocab", "300", label="llama-wide")
    print("model gradients: " + ("all within tolerance" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
