#!/usr/bin/env python3
"""Writes checkpoints for the fake model of test/unit/Runtime/FakeModel.c.

The model (vocabulary 11, width 4) takes transformer.wte.weight [11, 4] and
transformer.ln_f.bias [4]; its logits are wte[id, v % 4] + bias[v % 4] + v.
The values below are exact in f16 and bf16. Options make the broken
variants llm-run's tests need.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "..", "utils"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from llm_ref.safetensors_io import save_file, save_sharded  # noqa: E402

VOCAB, DIM = 11, 4


def fake_tensors():
    wte = np.array([[i * 0.5 + j * 0.25 - 1.0 for j in range(DIM)]
                    for i in range(VOCAB)], dtype=np.float32)
    bias = np.array([0.125 * (j + 1) for j in range(DIM)], dtype=np.float32)
    return {"transformer.wte.weight": wte, "transformer.ln_f.bias": bias}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", help="output file (a folder with --sharded)")
    parser.add_argument("--dtype", choices=["f32", "f16", "bf16", "i64"],
                        default="f32")
    parser.add_argument("--extra", action="append", default=[],
                        help="add an unused f32 tensor of this name")
    parser.add_argument("--drop", action="append", default=[],
                        help="leave out this tensor")
    parser.add_argument("--transpose-wte", action="store_true",
                        help="store wte as [4, 11]")
    parser.add_argument("--non-finite", action="store_true",
                        help="wte row 5 all NaN, wte[6, 0] = +inf")
    parser.add_argument("--sharded", action="store_true",
                        help="write a two-shard checkpoint into the folder")
    args = parser.parse_args()

    tensors = fake_tensors()
    if args.non_finite:
        tensors["transformer.wte.weight"][5, :] = np.nan
        tensors["transformer.wte.weight"][6, 0] = np.inf
    if args.transpose_wte:
        tensors["transformer.wte.weight"] = np.ascontiguousarray(
            tensors["transformer.wte.weight"].T)
    for name in args.drop:
        del tensors[name]
    converted = {}
    for name, value in tensors.items():
        if args.dtype == "f16":
            converted[name] = value.astype(np.float16)
        elif args.dtype == "bf16":
            converted[name] = torch.from_numpy(value).to(torch.bfloat16)
        elif args.dtype == "i64":
            converted[name] = value.astype(np.int64)
        else:
            converted[name] = value
    for name in args.extra:
        converted[name] = np.zeros(2, dtype=np.float32)

    if args.sharded:
        os.makedirs(args.out, exist_ok=True)
        save_sharded(converted, args.out, 2)
    else:
        save_file(converted, args.out)


if __name__ == "__main__":
    main()
