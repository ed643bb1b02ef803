#!/usr/bin/python3
"""Edit a model folder written by utils/make-tiny-model.py, for the bad-input
tests of llm-translate --import-hf.

    edit-model.py DIR [--set KEY=JSON] [--del KEY] [--raw-config TEXT]
                      [--drop NAME] [--rename OLD=NEW] [--reshape NAME=D0,D1]
                      [--retype NAME=DTYPE] [--add NAME=D0,D1]
                      [--truncate-checkpoint BYTES]

Config edits rewrite DIR/config.json (--raw-config expands backslash
escapes such as \\n and \\xff into bytes); tensor edits rewrite the single-file
checkpoint DIR/model.safetensors (names keep their order; added tensors go
last). Replaced or added tensors hold zeros. DTYPE is a safetensors dtype:
F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL. Options apply in the order above.
"""

import argparse
import json
import os
import sys
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "..", "utils"))

# torch (about 3 s to import) is loaded only for tensor edits: most bad-input
# tests edit config.json alone and run this script dozens of times.
_DTYPE_NAMES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
    "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8",
    "U8": "uint8", "BOOL": "bool",
}


def shape_of(text):
    return [int(d) for d in text.split(",") if d != ""]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON")
    ap.add_argument("--del", dest="delete", action="append", default=[], metavar="KEY")
    ap.add_argument("--raw-config", default=None, metavar="TEXT")
    ap.add_argument("--drop", action="append", default=[], metavar="NAME")
    ap.add_argument("--rename", action="append", default=[], metavar="OLD=NEW")
    ap.add_argument("--reshape", action="append", default=[], metavar="NAME=D0,D1")
    ap.add_argument("--retype", action="append", default=[], metavar="NAME=DTYPE")
    ap.add_argument("--add", action="append", default=[], metavar="NAME=D0,D1")
    ap.add_argument("--truncate-checkpoint", type=int, default=None, metavar="BYTES")
    args = ap.parse_args()

    config_path = os.path.join(args.dir, "config.json")
    if args.set or args.delete:
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f, object_pairs_hook=OrderedDict)
        for item in args.set:
            key, value = item.split("=", 1)
            config[key] = json.loads(value)
        for key in args.delete:
            config.pop(key, None)
        with open(config_path, "w", encoding="utf-8") as f:
            f.write(json.dumps(config, indent=2) + "\n")
    if args.raw_config is not None:
        # Escapes give any byte: \\xff is the byte 0xff, not U+00FF.
        text = args.raw_config.encode("utf-8").decode("unicode_escape")
        with open(config_path, "wb") as f:
            f.write(text.encode("latin-1"))

    checkpoint = os.path.join(args.dir, "model.safetensors")
    if args.drop or args.rename or args.reshape or args.retype or args.add:
        import torch
        from llm_ref import safetensors_io
        tensors = safetensors_io.load_file(checkpoint)
        for name in args.drop:
            del tensors[name]
        renames = dict(item.split("=", 1) for item in args.rename)
        tensors = OrderedDict((renames.get(k, k), v) for k, v in tensors.items())
        for item in args.reshape:
            name, dims = item.split("=", 1)
            tensors[name] = torch.zeros(shape_of(dims), dtype=tensors[name].dtype)
        for item in args.retype:
            name, dtype = item.split("=", 1)
            tensors[name] = torch.zeros(tensors[name].shape, dtype=getattr(torch, _DTYPE_NAMES[dtype]))
        for item in args.add:
            name, dims = item.split("=", 1)
            tensors[name] = torch.zeros(shape_of(dims), dtype=torch.float32)
        safetensors_io.save_file(tensors, checkpoint, metadata={"format": "pt"})
    if args.truncate_checkpoint is not None:
        with open(checkpoint, "r+b") as f:
            f.truncate(args.truncate_checkpoint)


if __name__ == "__main__":
    main()
