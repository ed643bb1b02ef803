#!/usr/bin/env python3
"""Checks `llm-run eval`'s loss against PyTorch.

    eval-ref.py MODEL_DIR DATA_FILE SEQ LOG

Recomputes, with the reference forward of utils/llm_ref in float64, the mean
cross-entropy `llm-run eval --tokenizer bytes --seq SEQ` reports for the
model folder (config.json + model.safetensors) on DATA_FILE: windows of
SEQ + 1 byte ids every SEQ bytes, the last one shorter. Compares it with the
"loss X" in LOG (within 1e-4 relative; llm-run prints 4 decimals) and
prints one line for FileCheck.
"""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "..", "utils"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from llm_ref import models  # noqa: E402


def main():
    folder, data, seq, log = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    config, state = models.load_model_dir(folder)
    state = {k: v.double() if v.is_floating_point() else v for k, v in state.items()}
    ids = list(open(data, "rb").read())
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(ids) - 1, seq):
            window = ids[start:start + seq + 1]
            inputs = torch.tensor([window[:-1]])
            logits = models.forward(config, state, inputs)
            loss = F.cross_entropy(logits[0], torch.tensor(window[1:]), reduction="sum")
            total += float(loss)
            count += len(window) - 1
    want = total / count
    got = float(re.search(r"loss ([0-9.]+)", open(log).read()).group(1))
    ok = abs(got - want) <= 1e-4 * want + 5e-5
    print("eval loss %.4f, PyTorch %.6f over %d tokens: %s"
          % (got, want, count, "ok" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
