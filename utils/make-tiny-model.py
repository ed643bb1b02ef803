#!/usr/bin/python3
"""Write a tiny, randomly initialised Hugging-Face-style model folder.

    /usr/bin/python3 utils/make-tiny-model.py --family {gpt2,bert,llama} --out DIR
        [--seed N] [--layers L] [--hidden D] [--heads H] [--kv-heads K]
        [--vocab V] [--ctx N] [--intermediate F] [--with-buffers] [--shards N]
        [--dtype {f32,f16,bf16}] [--tie | --no-tie] [--gpt2-unprefixed]
        [--init-std S]

Creates DIR/config.json and DIR/model.safetensors, or with --shards N > 1
DIR/model-0000i-of-0000N.safetensors + DIR/model.safetensors.index.json.
Tensor names, shapes and layouts are those of HF save_pretrained (see
utils/llm_ref/models.py). Weights are deterministic for a given seed and
config. Stale checkpoint files of the other layout in DIR are removed.
"""

import argparse
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

from llm_ref import models, safetensors_io  # noqa: E402
from llm_ref.safetensors_io import INDEX_FILE_NAME, SINGLE_FILE_NAME  # noqa: E402

_DTYPES = {"f32": (torch.float32, "float32"), "f16": (torch.float16, "float16"), "bf16": (torch.bfloat16, "bfloat16")}


def build(args):
    cfg = models.default_config(
        args.family, layers=args.layers, hidden=args.hidden, heads=args.heads, kv_heads=args.kv_heads,
        vocab=args.vocab, ctx=args.ctx, intermediate=args.intermediate, tie=args.tie,
    )
    if args.family != "llama" and args.kv_heads is not None:
        raise SystemExit("--kv-heads only applies to --family llama")
    if args.num_labels:
        cfg["architectures"] = [{"gpt2": "GPT2ForSequenceClassification",
                                 "bert": "BertForSequenceClassification",
                                 "llama": "LlamaForSequenceClassification"}[args.family]]
        cfg["num_labels"] = args.num_labels
        cfg["pad_token_id"] = 0
    if args.pretraining:
        if args.family != "bert" or args.num_labels:
            raise SystemExit("--pretraining applies to --family bert without --num-labels")
        cfg["architectures"] = ["BertForPreTraining"]
    tdtype, tname = _DTYPES[args.dtype]
    cfg["torch_dtype"] = tname
    sd = models.init_state_dict(cfg, seed=args.seed, std=args.init_std, with_buffers=args.with_buffers)
    out = {}
    for k, v in sd.items():
        if v.is_floating_point() and v.dim() > 0:
            v = v.to(tdtype)
        if args.family == "gpt2" and args.gpt2_unprefixed and k.startswith("transformer."):
            k = k[len("transformer."):]
        out[k] = v
    return cfg, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", required=True, choices=models.FAMILIES)
    ap.add_argument("--out", required=True, help="output folder (created if needed)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--layers", type=int, default=None, help="default 2")
    ap.add_argument("--hidden", type=int, default=None, help="default 32")
    ap.add_argument("--heads", type=int, default=None, help="default 4")
    ap.add_argument("--kv-heads", type=int, default=None, help="llama only, default 2")
    ap.add_argument("--vocab", type=int, default=None, help="default 97")
    ap.add_argument("--ctx", type=int, default=None, help="max positions, default 32")
    ap.add_argument("--intermediate", type=int, default=None,
                    help="MLP width; default 4*hidden (gpt2: n_inner=null), llama 64")
    ap.add_argument("--with-buffers", action="store_true",
                    help="also store the non-parameter buffers older real checkpoints carry "
                         "(gpt2 attn.bias/attn.masked_bias, bert position_ids, llama rotary_emb.inv_freq)")
    ap.add_argument("--shards", type=int, default=1, help="N > 1 writes a sharded checkpoint + index")
    ap.add_argument("--dtype", choices=sorted(_DTYPES), default="f32",
                    help="storage dtype of float parameters (default f32)")
    tie = ap.add_mutually_exclusive_group()
    tie.add_argument("--tie", dest="tie", action="store_true", default=None,
                     help="tie_word_embeddings=true (default for gpt2/bert)")
    tie.add_argument("--no-tie", dest="tie", action="store_false",
                     help="tie_word_embeddings=false and store lm_head / decoder weight (default for llama)")
    ap.add_argument("--gpt2-unprefixed", action="store_true",
                    help="gpt2: use the original hub names without 'transformer.'")
    ap.add_argument("--init-std", type=float, default=0.02, help="stddev of weights (default 0.02)")
    ap.add_argument("--num-labels", type=int, default=0,
                    help="a *ForSequenceClassification model (gpt2/llama: a `score` head; bert: pooler + `classifier`) "
                         "over this many classes instead of the LM head")
    ap.add_argument("--pretraining", action="store_true",
                    help="bert: BertForPreTraining (the MLM head plus next-sentence prediction: "
                         "pooler + cls.seq_relationship)")
    args = ap.parse_args(argv)
    if args.shards < 1:
        ap.error("--shards must be >= 1")

    cfg, tensors = build(args)
    os.makedirs(args.out, exist_ok=True)
    # Remove stale files of either layout so loaders see only this model.
    stale = [os.path.join(args.out, SINGLE_FILE_NAME), os.path.join(args.out, INDEX_FILE_NAME)]
    stale += glob.glob(os.path.join(args.out, "model-*-of-*.safetensors"))
    for p in stale:
        if os.path.exists(p):
            os.unlink(p)
    metadata = {"format": "pt"}
    if args.shards == 1:
        safetensors_io.save_file(tensors, os.path.join(args.out, SINGLE_FILE_NAME), metadata=metadata)
    else:
        safetensors_io.save_sharded(tensors, args.out, args.shards, metadata=metadata)
    text = json.dumps(cfg, indent=2) + "\n"
    safetensors_io._atomic_write(os.path.join(args.out, "config.json"), [text.encode("utf-8")])
    n_params = sum(v.numel() for k, v in tensors.items() if v.is_floating_point() and v.dim() > 0)
    print(f"wrote {args.family} model to {args.out}: {len(tensors)} tensors, ~{n_params} float values, "
          f"{'1 file' if args.shards == 1 else str(args.shards) + ' shards'}")


if __name__ == "__main__":
    main()
