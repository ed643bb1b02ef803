#!/usr/bin/python3
"""Run the pure-PyTorch reference forward pass of an HF-style model folder.

    /usr/bin/python3 utils/ref-forward.py DIR --tokens 1,2,3[;4,5,6] --out logits.npy
        [--attention-mask 1,1,0[;1,1,1]] [--token-type-ids 0,0,1[;...]]
        [--position-offset N] [--hidden]

DIR holds config.json and model.safetensors (or a sharded checkpoint with
model.safetensors.index.json); model_type must be gpt2, bert or llama.
Rows of a batch are separated by ';' and must have equal length.
Writes float32 logits [B, S, V] with np.save (or, with --hidden, the final
hidden state [B, S, H]: after ln_f / model.norm, or BERT's encoder output).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from llm_ref import models  # noqa: E402


def parse_matrix(text, what):
    rows = [r for r in text.strip().split(";")]
    try:
        mat = [[int(x) for x in r.replace(" ", "").split(",") if x != ""] for r in rows]
    except ValueError:
        raise SystemExit(f"{what}: expected comma-separated integers, rows separated by ';'")
    if not mat or any(len(r) != len(mat[0]) for r in mat) or len(mat[0]) == 0:
        raise SystemExit(f"{what}: rows must be non-empty and of equal length")
    return torch.tensor(mat, dtype=torch.long)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("--tokens", required=True, help="e.g. '1,2,3' or '1,2,3;4,5,6'")
    ap.add_argument("--attention-mask", default=None, help="0/1 per token, same layout as --tokens")
    ap.add_argument("--token-type-ids", default=None, help="BERT segment ids, same layout as --tokens")
    ap.add_argument("--position-offset", type=int, default=0, help="positions start at N (default 0)")
    ap.add_argument("--hidden", action="store_true", help="write the final hidden state instead of logits")
    ap.add_argument("--out", required=True, help="output .npy path")
    args = ap.parse_args(argv)

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    config, state = models.load_model_dir(args.model_dir)
    ids = parse_matrix(args.tokens, "--tokens")
    mask = parse_matrix(args.attention_mask, "--attention-mask") if args.attention_mask else None
    tt = parse_matrix(args.token_type_ids, "--token-type-ids") if args.token_type_ids else None
    for name, m in (("--attention-mask", mask), ("--token-type-ids", tt)):
        if m is not None and m.shape != ids.shape:
            raise SystemExit(f"{name} shape {tuple(m.shape)} != --tokens shape {tuple(ids.shape)}")
    pos = None
    if args.position_offset:
        pos = torch.arange(args.position_offset, args.position_offset + ids.shape[1]).unsqueeze(0)
    try:
        out = models.forward(config, state, ids, attention_mask=mask, token_type_ids=tt,
                             position_ids=pos, return_hidden=args.hidden)
    except (ValueError, KeyError, NotImplementedError) as e:
        raise SystemExit(f"ref-forward: {type(e).__name__}: {e}")
    arr = out.detach().float().numpy().astype(np.float32)
    d = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(d, exist_ok=True)
    np.save(args.out, arr)
    what = "hidden" if args.hidden else "logits"
    print(f"model_type={config['model_type']} {what} shape={list(arr.shape)} dtype=float32 -> {args.out}")
    flat = arr.reshape(-1)
    print(f"{what}[0,0,:5] = {np.array2string(arr[0, 0, :5], precision=6)}")
    print(f"{what}[-1,-1,-5:] = {np.array2string(arr[-1, -1, -5:], precision=6)}")
    print(f"sum={float(flat.sum(dtype=np.float64)):.6f} max|x|={float(np.abs(flat).max()):.6f}")
    if not args.hidden:
        print(f"argmax[:, -1] = {arr[:, -1, :].argmax(-1).tolist()}")


if __name__ == "__main__":
    main()
