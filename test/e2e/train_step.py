"""The compiled training step against PyTorch's AdamW, 20 steps.

GPT-2, LLaMA and BERT run again with the LM head and its loss computed
over chunks of 3 rows (llm-chunk-lm-head), and GPT-2 once without chunks
and with the norms kept for the backward (llm-recompute-norms off; every
other case recomputes them).

A GPT-2 case takes distill_step (llm-compile --train --distill) with a
wider teacher's logits as soft targets: alpha * T^2 * KL + (1 - alpha) *
cross-entropy against the same loss in PyTorch.

Usage: train_step.py LLM_COMPILE REPO_ROOT WORK_DIR

For tiny GPT-2 (tied head, causal LM), LLaMA-style (GQA, causal LM), BERT
(masked LM with a padding mask; and BertForPreTraining, which adds the
next-sentence loss over sentence pairs with segment ids), GPT-2
sequence-classifier (a `score`
head; right-padded texts labelled at their last token, as
GPT2ForSequenceClassification pools) and BERT sequence-classifier (pooler
+ classifier; labelled at [CLS], padding masked) models with random weights, `llm-compile
--train` emits train_step (loss, gradients, global-norm clipping, AdamW on
every parameter and its moments, in place). The script owns the parameters
and moments, calls train_step 20 times on fixed batches, and runs the same
20 steps in PyTorch (torch.optim.AdamW with the same settings and parameter
groups: weight decay on matrices only; clip_grad_norm_). The loss sequences
must agree within 1e-3 relative, the gradient norms too, and the final
parameters within 5 learning rates (max scaled error; see PARAM_TOLERANCE).
"""

import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llm_artifact  # noqa: E402

LLM_COMPILE, ROOT, WORK = sys.argv[1:4]
sys.path.insert(0, os.path.join(ROOT, "utils"))
from llm_ref import models  # noqa: E402

STEPS, LR, BETAS, EPS, DECAY, MAX_NORM = 20, 3e-3, (0.9, 0.95), 1e-8, 0.1, 1.0
# Adam divides each element's gradient by its own running RMS: an element
# whose gradients sit at float32 rounding level (an attention key bias,
# whose exact gradient is zero: softmax ignores a shift shared by all keys)
# moves by up to LR per step
# in either system, whichever way rounding tips it. The parameters are
# therefore compared at a few LR (the loss, the criterion, at 1e-3).
PARAM_TOLERANCE = 5 * LR


# Distillation: distill_step at temperature T with weight ALPHA on the
# teacher's soft targets.
TEMPERATURE, ALPHA = 2.0, 0.7


def make_model(folder, family, *args):
    subprocess.run([sys.executable, os.path.join(ROOT, "utils", "make-tiny-model.py"),
                    "--family", family, "--out", folder, "--init-std", "0.1", *args],
                   check=True, stdout=subprocess.DEVNULL)
    return models.load_model_dir(folder)


def check(family, *args, classes=0, distill=False, pretraining=False, chunk=None,
          recompute=True):
    label = (family + ("-classify" if classes else "") + ("-distill" if distill else "")
             + ("-pretrain" if pretraining else "")
             + ("-chunk%d" % chunk if chunk is not None else "")
             + ("" if recompute else "-kept-norms"))
    folder = os.path.join(WORK, label)
    if classes:
        args += ("--num-labels", str(classes))
    if pretraining:
        args += ("--pretraining",)
    config, state = make_model(folder, family, *args)
    artifact = folder + ".art"
    subprocess.run([LLM_COMPILE, folder, "-o", artifact, "--train", "--generation=false"]
                   + (["--distill"] if distill else [])
                   + (["--lm-head-chunk=%d" % chunk] if chunk is not None else [])
                   + ([] if recompute else ["--recompute-norms=false"]),
                   check=True, stdout=subprocess.DEVNULL)
    art = llm_artifact.Artifact(artifact)
    teacher = None
    if distill:
        # A wider, deeper teacher over the same vocabulary, seeded apart.
        teacher = make_model(folder + "-teacher", family, "--layers", "3", "--hidden", "48",
                             "--seed", "7")
    vocab = config["vocab_size"]
    rng = np.random.RandomState(2)
    batch, seq = 2, 8
    batches = []
    for _ in range(4):
        ids = rng.randint(0, vocab, size=(batch, seq + 1)).astype(np.int64)
        inputs, labels = ids[:, :-1].copy(), ids[:, 1:].copy()
        extra = {}
        if family == "bert":
            inputs = ids[:, :-1].copy()
            labels = np.full_like(inputs, -100)
            picked = rng.rand(batch, seq) < 0.3
            labels[picked] = inputs[picked]
            inputs[picked] = 3  # a stand-in [MASK] id
            mask = np.ones((batch, seq), dtype=np.int64)
            mask[1, 6:] = 0
            labels[1, 6:] = -100
            extra = {"attention_mask": mask, "token_type_ids": np.zeros_like(mask)}
            if pretraining:
                # Sentence pairs: segment B from a per-row cut on, and
                # whether B follows A.
                for row in range(batch):
                    extra["token_type_ids"][row, rng.randint(2, 6):] = 1
                extra["token_type_ids"][1, 6:] = 0  # padding
                extra["next_sentence_labels"] = rng.randint(0, 2, size=batch).astype(np.int64)
        if classes:
            # GPT2ForSequenceClassification: each (right-padded) text's
            # class at its last token, nothing elsewhere;
            # BertForSequenceClassification: at the first ([CLS]), with the
            # padding masked out.
            lengths = rng.randint(2, seq + 1, size=batch)
            labels = np.full_like(inputs, -100)
            for row, length in enumerate(lengths):
                inputs[row, length:] = 0
                if family == "bert":
                    extra["attention_mask"][row] = np.arange(seq) < length
                    labels[row, 0] = rng.randint(0, classes)
                else:
                    labels[row, length - 1] = rng.randint(0, classes)
        batches.append((inputs, labels, extra))

    # PyTorch.
    params = {k: torch.nn.Parameter(v.detach().clone().float()) for k, v in state.items()
              if v.is_floating_point()}
    groups = [{"params": [p for p in params.values() if p.dim() >= 2], "weight_decay": DECAY},
              {"params": [p for p in params.values() if p.dim() < 2], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=LR, betas=BETAS, eps=EPS)
    forward = models._FORWARD[config["model_type"]]
    if pretraining:
        forward = models.bert_pretraining_forward
    teacher_logits = []
    if teacher:
        with torch.no_grad():
            for inputs, _, extra in batches:
                teacher_logits.append(np.ascontiguousarray(forward(
                    teacher[0], {k: v.float() for k, v in teacher[1].items()},
                    torch.tensor(inputs),
                    **{k: torch.tensor(v) for k, v in extra.items()}).numpy()))
    want_loss, want_norm = [], []
    for step in range(STEPS):
        inputs, labels, extra = batches[step % len(batches)]
        logits = forward(config, params, torch.tensor(inputs),
                         **{k: torch.tensor(v) for k, v in extra.items()
                            if k != "next_sentence_labels"})
        if pretraining:
            # BertForPreTraining: masked-LM plus next-sentence loss.
            logits, sentence_logits = logits
        flat_logits = logits.reshape(-1, logits.shape[-1])
        flat_labels = torch.tensor(labels).reshape(-1)
        loss = F.cross_entropy(flat_logits, flat_labels)
        if pretraining:
            loss = loss + F.cross_entropy(sentence_logits,
                                          torch.tensor(extra["next_sentence_labels"]))
        if teacher:
            # Hinton et al.: KL(teacher || student) at T, times T^2, over the
            # labelled positions, mixed with the hard-label loss.
            target = torch.tensor(teacher_logits[step % len(batches)]).reshape(flat_logits.shape)
            counted = flat_labels != -100
            kl = F.kl_div(F.log_softmax(flat_logits[counted] / TEMPERATURE, -1),
                          F.softmax(target[counted] / TEMPERATURE, -1),
                          reduction="batchmean")
            loss = ALPHA * TEMPERATURE ** 2 * kl + (1 - ALPHA) * loss
        optimizer.zero_grad()
        loss.backward()
        want_norm.append(float(torch.nn.utils.clip_grad_norm_(list(params.values()), MAX_NORM)))
        optimizer.step()
        want_loss.append(float(loss))

    # llm-opt: the script owns parameters and moments; train_step updates
    # them in place.
    entry_name = "distill_step" if teacher else "train_step"
    entry = art.entries[entry_name]
    weights = {k: np.ascontiguousarray(v.detach().float().numpy()).copy()
               for k, v in state.items() if v.is_floating_point()}
    moments = {}
    got_loss, got_norm = [], []
    for step in range(STEPS):
        inputs, labels, extra = batches[step % len(batches)]
        t = step + 1
        settings = np.array([LR, BETAS[0], BETAS[1], EPS, DECAY, 1 - BETAS[0] ** t,
                             1 - BETAS[1] ** t, MAX_NORM], dtype=np.float32)
        runtime = [inputs] + [extra[k] for k in ("attention_mask", "token_type_ids") if k in extra]
        values = []
        for spec in entry["inputs"]:
            kind = spec["kind"]
            if kind == "param":
                values.append(weights[spec["name"]])
            elif kind == "optimizer_state":
                if spec["name"] not in moments:
                    moments[spec["name"]] = np.zeros(spec["shape"], dtype=np.float32)
                values.append(moments[spec["name"]])
            elif kind == "labels":
                values.append(labels)
            elif kind == "next_sentence_labels":
                values.append(extra["next_sentence_labels"])
            elif kind == "optimizer":
                values.append(settings)
            elif kind == "teacher_logits":
                values.append(teacher_logits[step % len(batches)])
            elif kind == "distill":
                values.append(np.array([TEMPERATURE, ALPHA], dtype=np.float32))
            else:
                values.append(runtime.pop(0))
        loss, norm = art.call(entry_name, *values)
        got_loss.append(float(loss))
        got_norm.append(float(norm))

    loss_error = max(abs(g - w) / abs(w) for g, w in zip(got_loss, want_loss))
    norm_error = max(abs(g - w) / max(abs(w), 1e-12) for g, w in zip(got_norm, want_norm))
    param_error, param_name = max(
        (llm_artifact.max_scaled_error(weights[k], params[k].detach().numpy()), k)
        for k in weights)
    ok = loss_error <= 1e-3 and norm_error <= 1e-3 and param_error <= PARAM_TOLERANCE
    print("%-6s %d AdamW steps: loss %.4f -> %.4f (PyTorch %.4f -> %.4f), max relative "
          "loss difference %.2e, grad norm %.2e, final parameters %.2e (%s)  %s"
          % (label, STEPS, got_loss[0], got_loss[-1], want_loss[0], want_loss[-1],
             loss_error, norm_error, param_error, param_name, "ok" if ok else "FAIL"))
    return ok


def main():
    ok = check("gpt2")
    ok &= check("llama", "--kv-heads", "2")
    ok &= check("bert")
    ok &= check("gpt2", classes=3)
    ok &= check("bert", classes=3)
    ok &= check("gpt2", distill=True)
    ok &= check("bert", pretraining=True)
    # The LM head and its loss over chunks of 3 rows (a partial last chunk
    # in each sequence of 8; by default one chunk of 128 holds a row); and
    # neither chunked nor with the norms recomputed for the backward.
    ok &= check("gpt2", chunk=3)
    ok &= check("llama", "--kv-heads", "2", chunk=3)
    ok &= check("bert", chunk=3)
    ok &= check("gpt2", chunk=0, recompute=False)
    print("training steps: " + ("all within tolerance" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
