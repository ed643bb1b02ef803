#!/usr/bin/env python3
"""Runs an artifact llm-compile built from an ONNX model and checks it.

    run-artifact.py ARTIFACT CASE

Binds the params from ARTIFACT/model.safetensors by name (parsed here, not
through the runtime under test), calls the entry point through the ABI
helper of test/e2e, and compares the result with NumPy's evaluation of the
same case (make-onnx.py). Prints the manifest's inputs and the maximum
error.
"""

import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..",
                                "e2e"))
from llm_artifact import Artifact  # noqa: E402

_DTYPES = {"F32": np.float32, "I64": np.int64, "I32": np.int32,
           "BOOL": np.bool_}


def load_safetensors(path):
    data = open(path, "rb").read()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        tensors[name] = np.frombuffer(
            data[8 + size + begin:8 + size + end],
            dtype=_DTYPES[info["dtype"]]).reshape(info["shape"])
    return tensors


def reference(case, feeds, params):
    if case == "external":
        return feeds["x"] @ params["w"]
    if case == "elementwise":
        x, b = feeds["x"], params["b"]
        v = ((x + b) * x - 0.5) / b
        v = np.tanh(np.sqrt(v * v))
        import math
        v = -np.vectorize(math.erf)(v).astype(np.float32)
        v = np.maximum(v, 0)
        return 1 / (1 + np.exp(-v))
    if case == "gather-negative":
        return params["wte"][feeds["ids"] - 50]
    raise SystemExit("no reference for " + case)


def main():
    folder, case = sys.argv[1], sys.argv[2]
    params = load_safetensors(os.path.join(folder, "model.safetensors"))
    artifact = Artifact(folder)
    entry = artifact.entries["forward"]
    rng = np.random.default_rng(0)
    args, feeds = [], {}
    for spec in entry["inputs"]:
        print("input %s %s %s" % (spec["kind"], spec["name"], spec["shape"]))
        if spec["kind"] == "param":
            args.append(params[spec["name"]])
            continue
        shape = [d if d >= 0 else 5 for d in spec["shape"]]
        if spec["dtype"] == "i64":
            feeds[spec["name"]] = rng.integers(0, 50, shape).astype(np.int64)
        else:
            feeds[spec["name"]] = rng.standard_normal(shape).astype(np.float32)
        args.append(feeds[spec["name"]])
    got = artifact.call("forward", *args)
    if isinstance(got, (list, tuple)):
        got = got[0]
    want = reference(case, feeds, params)
    error = float(np.max(np.abs(got - want)))
    print("max error %.3g: %s" % (error, "ok" if error < 1e-4 else "MISMATCH"))


if __name__ == "__main__":
    main()
