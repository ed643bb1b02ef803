#!/usr/bin/env python3
"""Checks a .npy written by `llm-run forward --npy` against the fake model.

Recomputes the logits of FakeModel.c (wte[id, v % 4] + bias[v % 4] + v, in
float32) from the checkpoint and the token rows with numpy, and requires
the file to hold exactly those values as a C-order little-endian float32
array [batch, seq, vocab]. Prints one line that the tests FileCheck.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "..", "utils"))

import numpy as np  # noqa: E402

from llm_ref.safetensors_io import load_checkpoint_dir, load_file  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("npy")
    parser.add_argument("--weights", required=True)
    parser.add_argument("--tokens", required=True)
    args = parser.parse_args()

    if os.path.isdir(args.weights):
        tensors = load_checkpoint_dir(args.weights)
    else:
        tensors = load_file(args.weights)
    wte = tensors["transformer.wte.weight"].float().numpy()
    bias = tensors["transformer.ln_f.bias"].float().numpy()
    vocab, dim = wte.shape
    ids = np.array([[int(t) for t in row.split(",")]
                    for row in args.tokens.split(";")], dtype=np.int64)

    columns = np.arange(vocab) % dim
    expected = (wte[ids][:, :, columns] + bias[columns]) + \
        np.arange(vocab, dtype=np.float32)

    with open(args.npy, "rb") as f:
        version = np.lib.format.read_magic(f)
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    got = np.load(args.npy)
    if version != (1, 0) or fortran or dtype != np.dtype("<f4"):
        sys.exit(f"bad header: version {version}, fortran {fortran}, "
                 f"dtype {dtype}")
    if got.shape != expected.shape:
        sys.exit(f"shape {got.shape}, expected {expected.shape}")
    if not np.array_equal(got, expected):
        sys.exit(f"values differ:\n{got}\nexpected\n{expected}")
    print(f"logits match: shape {list(got.shape)} float32")


if __name__ == "__main__":
    main()
