"""torch-exported models, imported from ONNX and compiled, against PyTorch.

Usage: onnx_models.py LLM_COMPILE REPO_ROOT WORK_DIR

Exports tiny GPT-2, BERT (padding mask) and LLaMA-style models with
torch.onnx.export at opsets 14 and 17 with dynamic batch and sequence axes
(utils/export_onnx_models.py, which also records PyTorch's logits and checks
ONNX Runtime against them when it is installed), compiles each model.onnx
with llm-compile, binds the graph inputs and the artifact's
model.safetensors, and compares the logits at batch x sequence 1x1, 2x7
and 1x32 with PyTorch's and with ONNX Runtime's (onnxruntime-node, run on
the same inputs; utils/setup.sh installs it): max |got - want| / max(1,
max |want|) <= 1e-4 for both.
Each model's imported IR (llm-translate --import-onnx, next to llm-compile)
must also hold one llm.attention per layer: the attention raising fired.
"""

import glob
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llm_artifact  # noqa: E402
from ort_peer import ort_available, run_ort  # noqa: E402

TOLERANCE = 1e-4
LLM_COMPILE, ROOT, WORK = sys.argv[1:4]
sys.path.insert(0, os.path.join(ROOT, "utils"))
from llm_ref import safetensors_io  # noqa: E402


def llm_translate():
    """llm-translate from the folder of llm-compile (or the PATH)."""
    folder = os.path.dirname(LLM_COMPILE)
    return os.path.join(folder, "llm-translate") if folder else "llm-translate"


def count_attention(model):
    """The number of llm.attention ops in the raised import of `model`."""
    imported = subprocess.run([llm_translate(), "--import-onnx", model], check=True,
                              stdout=subprocess.PIPE, text=True).stdout
    return imported.count("= llm.attention ")


def num_layers(folder):
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    return config.get("n_layer", config.get("num_hidden_layers"))


def main():
    models = os.path.join(WORK, "models")
    subprocess.run([sys.executable, os.path.join(ROOT, "utils", "export_onnx_models.py"),
                    "--out", models, "--no-ort"], check=True, stdout=subprocess.DEVNULL)
    if not ort_available():
        print("onnx models: FAILURES: onnxruntime-node is not installed "
              "(run utils/setup.sh or utils/ort/setup.sh)")
        return 1
    ok = True
    for folder in sorted(glob.glob(os.path.join(models, "*-opset*[0-9]"))):
        name = os.path.basename(folder)
        art = folder + "-art"
        compiled = subprocess.run([LLM_COMPILE, os.path.join(folder, "model.onnx"), "-o", art],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if compiled.returncode != 0:
            print("%-16s FAIL: %s" % (name, compiled.stderr.strip().splitlines()[0]))
            ok = False
            continue
        artifact = llm_artifact.Artifact(art)
        params = {k: v.float().numpy()
                  for k, v in safetensors_io.load_file(os.path.join(art, "model.safetensors")).items()}
        errors, ort_errors = [], []
        for ref in sorted(glob.glob(os.path.join(folder, "ref_*.in.npz"))):
            feeds = dict(np.load(ref))
            want = np.load(ref.replace(".in.npz", ".out.npz"))["logits"]
            ort = run_ort(os.path.join(folder, "model.onnx"), feeds, threads=1)[0]
            inputs = [feeds[spec["name"]] if spec["kind"] != "param"
                      else llm_artifact.param_array(spec, params)
                      for spec in artifact.entries["forward"]["inputs"]]
            got = artifact.call("forward", *inputs)
            if "attention_mask" in feeds:
                keep = feeds["attention_mask"].astype(bool)
                got, want, ort = got[keep], want[keep], ort[keep]
            errors.append(llm_artifact.max_scaled_error(got, want))
            ort_errors.append(llm_artifact.max_scaled_error(got, ort))
        worst, worst_ort = max(errors), max(ort_errors)
        attention, layers = count_attention(os.path.join(folder, "model.onnx")), num_layers(folder)
        good = max(worst, worst_ort) <= TOLERANCE and attention == layers
        ok &= good
        print("%-16s %d shapes, max scaled error vs PyTorch %.2e, vs ORT %.2e, "
              "%d llm.attention for %d layers  %s"
              % (name, len(errors), worst, worst_ort, attention, layers,
                 "ok" if good else "FAIL"))
    print("onnx models: %s" % ("all within tolerance" if ok else "FAILURES"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
