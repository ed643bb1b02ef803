"""Whole models, compiled by llm-compile and run, against PyTorch.

Usage: model_numerics.py LLM_COMPILE LLM_TRANSLATE LLM_RUN REPO_ROOT WORK_DIR
           [-- LLM_COMPILE_ARGS...]

For each model: random weights in the Hugging Face layout (written by
utils/make-tiny-model.py), the model in llm IR (the bundled GPT-2-style
example, and models imported from the HF folders by `llm-translate
--import-hf`), compiled to an artifact, run through the ABI at batch 1 and 3
and sequence lengths 1, 7 and the maximum, and compared with the PyTorch
reference of utils/llm_ref. Error measure: max |got - want| / max(1, max
|want|) over the logits, tolerance 1e-4. The HF models also run through
the C++ runtime (`llm-run forward --npy`), which binds and packs the
checkpoint itself (and passes BERT an all-ones mask and one segment).
The HF models' longest sequences (96, and 70 through llm-run) span two
tiles of the fused attention each way. Arguments after `--` go to every
llm-compile (the fusion on/off matrix).
"""

import os
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llm_artifact  # noqa: E402

TOLERANCE = 1e-4
ARGS, COMPILE_ARGS = sys.argv[1:], []
if "--" in ARGS:
    ARGS, COMPILE_ARGS = ARGS[:ARGS.index("--")], ARGS[ARGS.index("--") + 1:]
LLM_COMPILE, LLM_TRANSLATE, LLM_RUN, ROOT, WORK = ARGS[:5]
sys.path.insert(0, os.path.join(ROOT, "utils"))
from llm_ref import models, safetensors_io  # noqa: E402

PYTHON = sys.executable


def make_weights(folder, family, *args):
    subprocess.run([PYTHON, os.path.join(ROOT, "utils", "make-tiny-model.py"),
                    "--family", family, "--out", folder, "--init-std", "0.3",
                    *args], check=True, stdout=subprocess.DEVNULL)


def check_model(name, artifact_dir, weights_dir, max_seq, extra_inputs=None):
    config, state = models.load_model_dir(weights_dir)
    raw = safetensors_io.load_checkpoint_dir(weights_dir)
    art = llm_artifact.Artifact(artifact_dir)
    entry = art.entries["forward"]
    vocab = config["vocab_size"]
    errors = []
    rng = np.random.RandomState(7)
    for batch, seq in [(1, 1), (1, 7), (3, 7), (2, max_seq)]:
        ids = rng.randint(0, vocab, size=(batch, seq)).astype(np.int64)
        inputs, kwargs = [], {}
        for spec in entry["inputs"]:
            if spec["kind"] == "tokens":
                inputs.append(ids)
            elif spec["kind"] == "param":
                inputs.append(llm_artifact.param_array(
                    spec, raw, lambda t: t.float().numpy()))
            else:
                value = extra_inputs(spec["name"], batch, seq, kwargs)
                inputs.append(value)
        got = art.call("forward", *inputs)
        want = models.forward(config, state, torch.tensor(ids), **kwargs)
        want = want.detach().double().numpy()
        if "attention_mask" in kwargs:
            # Logits at padded positions carry no meaning; compare the rest.
            keep = kwargs["attention_mask"].numpy().astype(bool)
            got, want = got[keep], want[keep]
        errors.append(llm_artifact.max_scaled_error(got, want))
    worst = max(errors)
    status = "ok" if worst <= TOLERANCE else "FAIL"
    print("%-28s %d shapes, max scaled error %.2e  %s" % (name, len(errors), worst, status))
    return worst <= TOLERANCE


def check_runtime(name, artifact_dir, weights_dir, seq):
    """The same model through llm-run (the C++ runtime) at batch 2."""
    config, state = models.load_model_dir(weights_dir)
    rng = np.random.RandomState(11)
    ids = rng.randint(0, config["vocab_size"], size=(2, seq)).astype(np.int64)
    npy = os.path.join(WORK, name.replace(" ", "-") + "-llm-run.npy")
    tokens = ";".join(",".join(str(t) for t in row) for row in ids)
    subprocess.run([LLM_RUN, "forward", "--artifact", artifact_dir, "--weights",
                    weights_dir, "--tokens", tokens, "--npy", npy],
                   check=True, stdout=subprocess.DEVNULL)
    want = models.forward(config, state, torch.tensor(ids)).detach().double().numpy()
    error = llm_artifact.max_scaled_error(np.load(npy), want)
    status = "ok" if error <= TOLERANCE else "FAIL"
    print("%-28s llm-run, max scaled error %.2e  %s" % (name, error, status))
    return error <= TOLERANCE


def bert_inputs(name, batch, seq, kwargs):
    if name in ("attention_mask", "input_1"):
        mask = np.ones((batch, seq), dtype=np.int64)
        if batch > 1 and seq > 2:
            mask[-1, seq // 2:] = 0  # right padding on the last row
        kwargs["attention_mask"] = torch.tensor(mask)
        return mask
    if name in ("token_type_ids", "input_2"):
        types = np.zeros((batch, seq), dtype=np.int64)
        types[:, seq // 2:] = 1
        kwargs["token_type_ids"] = torch.tensor(types)
        return types
    raise ValueError("unexpected input " + name)


def main():
    os.makedirs(WORK, exist_ok=True)
    ok = True

    # The bundled GPT-2-style example, with weights of its shape.
    weights = os.path.join(WORK, "example-weights")
    make_weights(weights, "gpt2", "--hidden", "64", "--heads", "4", "--layers", "2",
                 "--vocab", "256", "--ctx", "64", "--seed", "3")
    art = os.path.join(WORK, "example-art")
    subprocess.run([LLM_COMPILE, os.path.join(ROOT, "examples", "gpt2-tiny", "model.mlir"),
                    "-o", art, *COMPILE_ARGS], check=True, stdout=subprocess.DEVNULL)
    ok &= check_model("example gpt2-tiny", art, weights, 64)

    # Hugging Face folders imported by llm-translate.
    families = [
        ("gpt2", ["--layers", "2", "--hidden", "48", "--heads", "4", "--vocab", "97",
                  "--ctx", "96"], None),
        ("bert", ["--layers", "2", "--hidden", "48", "--heads", "4", "--vocab", "97",
                  "--ctx", "96"], bert_inputs),
        # An FFN of 1056: the down projection's K spans two blocks of the
        # packed-weight kernel (1024 rows each).
        ("llama", ["--layers", "2", "--hidden", "64", "--heads", "8", "--kv-heads", "2",
                   "--vocab", "97", "--ctx", "96", "--intermediate", "1056"], None),
    ]
    for family, args, extra in families:
        folder = os.path.join(WORK, family)
        make_weights(folder, family, *args, "--seed", "5")
        mlir = folder + ".mlir"
        with open(mlir, "w") as f:
            subprocess.run([LLM_TRANSLATE, "--import-hf", folder], check=True, stdout=f)
        art = folder + "-art"
        subprocess.run([LLM_COMPILE, mlir, "-o", art, *COMPILE_ARGS], check=True,
                       stdout=subprocess.DEVNULL)
        ok &= check_model("hf " + family, art, folder, 96, extra)
        ok &= check_runtime("hf " + family, art, folder, 70)
    print("model numerics: %s" % ("all within tolerance" if ok else "FAILURES"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
