"""Generation with the KV cache, compiled by llm-compile, against PyTorch.

Usage: generation.py LLM_COMPILE LLM_RUN LLM_GENERATE_EXAMPLE REPO_ROOT WORK_DIR

For GPT-2 and LLaMA-style models (RoPE, GQA) with random weights in the
Hugging Face layout:

1. The prefill and decode entry points llm-compile derives, called through
   the ABI with caches this script owns: a batch of two prompts of different
   lengths (right-padded), then decode steps. At every step the logits of
   each sequence must equal the PyTorch reference's full forward over the
   same tokens, and llm-opt's own forward entry point, within 1e-4 scaled;
   the caches must be updated in place (no copies: the arrays passed in
   change).
2. `llm-run generate --greedy` for 64 new tokens (batch of one, and a batch
   of two prompts of different lengths): the ids must equal PyTorch's greedy
   generation token for token.
3. ONNX-imported decoders, GPT-2 and LLaMA-style (torch.onnx.export at
   opsets 14 and 17, dynamic axes; position ids computed in the graph:
   GPT-2's lookup raised to llm.positional_encoding, LLaMA's RoPE angles
   computed from the absolute positions): greedy generation equals
   PyTorch's too.
4. Text in, text out: a GPT-2 with a 256-token vocabulary and the byte-level
   tokenizer, through `llm-run generate --prompt` and through the C API
   (examples/c-api/generate.c): both equal PyTorch's greedy continuation of
   the prompt's bytes, and the printed text is those bytes
   decoded with U+FFFD for invalid UTF-8.
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
NEW_TOKENS = 64
LLM_COMPILE, LLM_RUN, LLM_GENERATE_EXAMPLE, ROOT, WORK = sys.argv[1:6]
sys.path.insert(0, os.path.join(ROOT, "utils"))
from llm_ref import models, safetensors_io  # noqa: E402

PYTHON = sys.executable


def make_model(name, family, *args):
    folder = os.path.join(WORK, name)
    subprocess.run([PYTHON, os.path.join(ROOT, "utils", "make-tiny-model.py"),
                    "--family", family, "--out", folder, "--init-std", "0.3",
                    "--ctx", "96", *args], check=True, stdout=subprocess.DEVNULL)
    artifact = folder + ".art"
    subprocess.run([LLM_COMPILE, folder, "-o", artifact], check=True,
                   stdout=subprocess.DEVNULL)
    return folder, artifact


def torch_last_logits(config, state, tokens):
    ids = torch.tensor([tokens], dtype=torch.int64)
    return models.forward(config, state, ids)[0, -1].detach().double().numpy()


def torch_greedy(config, state, prompt, n):
    tokens = list(prompt)
    for _ in range(n):
        tokens.append(int(np.argmax(torch_last_logits(config, state, tokens))))
    return tokens[len(prompt):]


def entry_inputs(entry, raw, runtime):
    """The inputs of an entry point: params from the checkpoint, the rest
    from `runtime` by kind and name."""
    inputs = []
    for spec in entry["inputs"]:
        if spec["kind"] == "param":
            inputs.append(llm_artifact.param_array(
                spec, raw, lambda t: t.float().numpy()))
        elif spec["kind"] == "kv_cache":
            inputs.append(runtime[spec["name"]])
        else:
            inputs.append(runtime[spec["kind"]])
    return inputs


def check_cached_logits(name, folder, artifact_dir):
    config, state = models.load_model_dir(folder)
    raw = safetensors_io.load_checkpoint_dir(folder)
    art = llm_artifact.Artifact(artifact_dir)
    vocab = config["vocab_size"]
    rng = np.random.RandomState(5)
    prompts = [list(rng.randint(0, vocab, size=5)), list(rng.randint(0, vocab, size=9))]
    batch, seq = len(prompts), max(len(p) for p in prompts)
    ids = np.zeros((batch, seq), dtype=np.int64)
    for b, p in enumerate(prompts):
        ids[b, :len(p)] = p
    caches = {}
    for spec in art.entries["decode"]["inputs"]:
        if spec["kind"] == "kv_cache":
            caches[spec["name"]] = np.zeros([batch] + spec["shape"][1:], dtype=np.float32)
    runtime = dict(caches)
    runtime.update(tokens=ids, positions=np.zeros(batch, dtype=np.int64),
                   lengths=np.array([len(p) for p in prompts], dtype=np.int64))
    logits = art.call("prefill", *entry_inputs(art.entries["prefill"], raw, runtime))
    in_place = all(np.any(c != 0) for c in caches.values())

    sequences = [list(p) for p in prompts]
    errors_torch, errors_self = [], []
    forward = art.entries["forward"]
    for step in range(12):
        for b in range(batch):
            want = torch_last_logits(config, state, sequences[b])
            errors_torch.append(llm_artifact.max_scaled_error(logits[b], want))
            full = art.call("forward", *entry_inputs(
                forward, raw, {"tokens": np.array([sequences[b]], dtype=np.int64)}))
            errors_self.append(llm_artifact.max_scaled_error(logits[b], full[0, -1]))
        next_ids = [int(np.argmax(logits[b])) for b in range(batch)]
        positions = np.array([len(s) for s in sequences], dtype=np.int64)
        for b in range(batch):
            sequences[b].append(next_ids[b])
        runtime.update(tokens=np.array(next_ids, dtype=np.int64).reshape(batch, 1),
                       positions=positions)
        logits = art.call("decode", *entry_inputs(art.entries["decode"], raw, runtime))
    worst = max(max(errors_torch), max(errors_self))
    ok = worst <= TOLERANCE and in_place
    print("%-8s prefill + 12 decode steps, batch 2 (lengths 5, 9): max scaled "
          "error vs PyTorch %.2e, vs own forward %.2e, caches in place %s  %s"
          % (name, max(errors_torch), max(errors_self), in_place, "ok" if ok else "FAIL"))
    return ok


def run_generate(artifact_dir, folder, prompts):
    text = ";".join(",".join(str(t) for t in p) for p in prompts)
    weights = ["--weights", folder] if folder else []
    out = subprocess.run([LLM_RUN, "generate", artifact_dir, *weights,
                          "--prompt-ids", text, "--greedy",
                          "--max-new-tokens", str(NEW_TOKENS)],
                         check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    rows = []
    for line in out.stdout.splitlines():
        if line.startswith("ids["):
            rows.append([int(t) for t in line.split(":", 1)[1].split()])
    return rows, out.stderr.strip()


def check_greedy(name, folder, artifact_dir, weights=True):
    """weights: pass the folder's checkpoint (an ONNX artifact carries its
    own)."""
    config, state = models.load_model_dir(folder)
    vocab = config["vocab_size"]
    rng = np.random.RandomState(9)
    ok = True
    for prompts in ([list(rng.randint(0, vocab, size=8))],
                    [list(rng.randint(0, vocab, size=3)), list(rng.randint(0, vocab, size=11))]):
        got, summary = run_generate(artifact_dir, folder if weights else None, prompts)
        want = [torch_greedy(config, state, p, NEW_TOKENS) for p in prompts]
        equal = got == want
        first_diff = "-"
        if not equal:
            for b, (g, w) in enumerate(zip(got, want)):
                diffs = [i for i, (x, y) in enumerate(zip(g, w)) if x != y]
                if diffs or len(g) != len(w):
                    first_diff = "row %d token %s" % (b, diffs[0] if diffs else len(g))
                    break
        print("%-8s greedy %d tokens, batch %d: equal to PyTorch %s (first difference %s)  %s"
              % (name, NEW_TOKENS, len(prompts), equal, first_diff, "ok" if equal else "FAIL"))
        ok &= equal
    return ok


def check_text(name, folder, artifact_dir):
    config, state = models.load_model_dir(folder)
    prompt = "Hello, world"
    want = torch_greedy(config, state, list(prompt.encode()), 24)
    run = subprocess.run([LLM_RUN, "generate", artifact_dir, "--weights", folder,
                          "--tokenizer", "bytes", "--prompt", prompt, "--greedy",
                          "--max-new-tokens", "24", "--print-ids"],
                         check=True, stdout=subprocess.PIPE)
    lines = run.stdout.split(b"\n")
    ids_line = [l for l in lines if l.startswith(b"ids[0]:")][0]
    got_run = [int(t) for t in ids_line.split(b":", 1)[1].split()]
    # Random bytes are rarely valid UTF-8: the text is the replacement
    # decoding, as Python's errors="replace" does it.
    want_text = (prompt.encode() + bytes(want)).decode("utf-8", errors="replace")
    text_ok = run.stdout.decode("utf-8").startswith(want_text)
    example = subprocess.run([LLM_GENERATE_EXAMPLE, artifact_dir, folder, "bytes",
                              prompt, "24"], check=True, stdout=subprocess.PIPE)
    ids_line = [l for l in example.stdout.split(b"\n") if l.startswith(b"ids:")][0]
    got_c = [int(t) for t in ids_line.split(b":", 1)[1].split()]
    text_ok &= example.stdout.decode("utf-8").startswith(
        bytes(want).decode("utf-8", errors="replace"))
    # --stream prints the same text as it goes.
    streamed = subprocess.run([LLM_RUN, "generate", artifact_dir, "--weights", folder,
                               "--tokenizer", "bytes", "--prompt", prompt, "--greedy",
                               "--max-new-tokens", "24", "--stream"],
                              check=True, stdout=subprocess.PIPE)
    stream_ok = streamed.stdout.decode("utf-8") == want_text + "\n"
    # --stop: the text ends before the first occurrence of the stop string,
    # which is never printed; here two generated characters (no U+FFFD).
    generated = want_text[len(prompt):]
    stop_ok = False
    for i in range(len(generated) - 1):
        stop = generated[i:i + 2]
        if "\ufffd" not in stop and stop.strip() == stop and stop:
            cut = subprocess.run([LLM_RUN, "generate", artifact_dir, "--weights", folder,
                                  "--tokenizer", "bytes", "--prompt", prompt, "--greedy",
                                  "--max-new-tokens", "24", "--stop", stop],
                                 check=True, stdout=subprocess.PIPE)
            first = generated.index(stop)
            stop_ok = cut.stdout.decode("utf-8") == prompt + generated[:first] + "\n"
            break
    ok = got_run == want and got_c == want and text_ok and stream_ok and stop_ok
    print("%-8s byte-level text, 24 greedy tokens: llm-run %s, C API %s, text %s, "
          "stream %s, stop string %s  %s"
          % (name, got_run == want, got_c == want, text_ok, stream_ok, stop_ok,
             "ok" if ok else "FAIL"))
    return ok


def main():
    ok = True
    for name, family, args in [("gpt2", "gpt2", []),
                               ("llama", "llama", ["--kv-heads", "2"])]:
        folder, artifact_dir = make_model(name, family, *args)
        ok &= check_cached_logits(name, folder, artifact_dir)
        ok &= check_greedy(name, folder, artifact_dir)
    export = os.path.join(WORK, "onnx")
    subprocess.run([PYTHON, os.path.join(ROOT, "utils", "export_onnx_models.py"),
                    "--out", export, "--families", "gpt2,llama", "--opsets", "14,17",
                    "--no-ort", "--quiet", "--ctx", "96", "--init-std", "0.3"],
                   check=True, stdout=subprocess.DEVNULL)
    for family in ("gpt2", "llama"):
        for opset in (14, 17):
            folder = os.path.join(export, "%s-opset%d" % (family, opset))
            artifact_dir = folder + ".art"
            # LLaMA has no position table: the context is --max-seq.
            subprocess.run([LLM_COMPILE, os.path.join(folder, "model.onnx"), "-o",
                            artifact_dir, "--max-seq", "96"],
                           check=True, stdout=subprocess.DEVNULL)
            ok &= check_greedy("onnx-%s%d" % (family, opset), folder, artifact_dir,
                               weights=False)
    folder, artifact_dir = make_model("bytes", "gpt2", "--vocab", "256")
    ok &= check_text("bytes", folder, artifact_dir)
    print("generation: " + ("all ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
