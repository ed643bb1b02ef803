#!/usr/bin/python3
"""Self-check of utils/llm_ref against independent formulations.

    /usr/bin/python3 utils/llm_ref/selfcheck.py [-v]

Prints PASS/FAIL per check, exits 1 if any check fails.

Numerical criterion (everything in fp32):
    max|got - ref| <= 1e-5 * max(1, max|ref|)
Exact checks (safetensors round trips, invariances that must hold bitwise
or within the same bound) say so in their name.

Independent formulations used:
  * GPT-2: a model built from torch.nn modules (nn.Embedding, nn.LayerNorm,
    nn.MultiheadAttention with the Conv1D weights transposed into
    in_proj/out_proj, nn.Linear MLP, F.gelu(approximate="tanh")).
  * BERT: nn.TransformerEncoderLayer (post-LN, activation "gelu",
    dropout 0) with copied q/k/v/out/FFN/LayerNorm weights and
    src_key_padding_mask, plus an nn-built embedding block and MLM head.
  * LLaMA: a Meta-style implementation (interleaved complex RoPE via
    torch.view_as_complex/torch.polar with angles computed in float64,
    per-head GQA loop, -inf causal mask), fed with q/k weights un-permuted
    from HF's rotate_half layout back to Meta's interleaved layout.
  * safetensors: byte-level parsing written here with struct/json.
"""

import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
UTILS = os.path.dirname(HERE)
sys.path.insert(0, UTILS)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from llm_ref import models  # noqa: E402
from llm_ref import safetensors_io as st  # noqa: E402

REL_TOL = 1e-5
RESULTS = []
TEMP_DIRS = []
VERBOSE = "-v" in sys.argv


def _report(name, ok, detail=""):
    RESULTS.append((name, ok))
    print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f"  ({detail})" if detail else ""), flush=True)


def close(name, got, ref, rel=REL_TOL):
    got = torch.as_tensor(got).double()
    ref = torch.as_tensor(ref).double()
    if got.shape != ref.shape:
        _report(name, False, f"shape {tuple(got.shape)} vs {tuple(ref.shape)}")
        return
    scale = max(1.0, float(ref.abs().max())) if ref.numel() else 1.0
    err = float((got - ref).abs().max()) if ref.numel() else 0.0
    tol = rel * scale
    ok = err <= tol and bool(torch.isfinite(got).all())
    _report(name, ok, f"max abs err {err:.2e} <= tol {tol:.2e}, max|ref| {float(ref.abs().max()):.3g}")


def truth(name, cond, detail=""):
    _report(name, bool(cond), detail)


def run(fn):
    try:
        fn()
    except Exception as e:  # a crashing group is a failure, keep going
        _report(f"{fn.__name__} raised {type(e).__name__}: {e}", False)
        if VERBOSE:
            traceback.print_exc()


def rand_ids(g, b, s, v):
    return torch.randint(0, v, (b, s), generator=g)


# ============================================================================
# safetensors
# ============================================================================


def parse_by_hand(path):
    """Independent reader: returns (N, header dict, data bytes, raw file)."""
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    hdr_bytes = raw[8 : 8 + n]
    return n, json.loads(hdr_bytes.decode("utf-8")), raw[8 + n :], raw


def check_safetensors():
    tmp = tempfile.mkdtemp(prefix="llmref-st-")
    TEMP_DIRS.append(tmp)
    g = torch.Generator().manual_seed(1)

    # --- byte layout of a small file, checked by hand -----------------------
    a = torch.tensor([[1.0, -2.0], [0.5, 3.25]], dtype=torch.float32)
    b = torch.tensor([7, -8, 9], dtype=torch.int64)
    c = torch.tensor([True, False, True])
    p = os.path.join(tmp, "small.safetensors")
    st.save_file({"zz.a": a, "b": b, "c": c}, p, metadata={"format": "pt", "k": "v"})
    n, hdr, data, raw = parse_by_hand(p)
    truth("safetensors: header length N and 8+N are multiples of 8", n % 8 == 0 and (8 + n) % 8 == 0, f"N={n}")
    pad = raw[8 : 8 + n]
    truth("safetensors: header padding is spaces only", pad.rstrip(b" ").endswith(b"}") and set(pad[len(pad.rstrip(b' ')):]) <= {0x20})
    truth("safetensors: __metadata__ round-trips", hdr.get("__metadata__") == {"format": "pt", "k": "v"}
          and st.load_metadata(p) == {"format": "pt", "k": "v"})
    exp = {
        "b": ("I64", [3], b.numpy().astype("<i8").tobytes()),
        "zz.a": ("F32", [2, 2], a.numpy().astype("<f4").tobytes()),
        "c": ("BOOL", [3], bytes([1, 0, 1])),
    }
    ok = True
    spans = []
    for name, (tag, shape, byts) in exp.items():
        e = hdr[name]
        ok &= e["dtype"] == tag and e["shape"] == shape
        s0, s1 = e["data_offsets"]
        ok &= data[s0:s1] == byts
        spans.append((s0, s1))
    spans.sort()
    ok &= spans[0][0] == 0 and all(spans[i][1] == spans[i + 1][0] for i in range(len(spans) - 1)) and spans[-1][1] == len(data)
    truth("safetensors: dtype/shape/offsets and little-endian bytes (hand-parsed)", ok)
    # same order as the Rust writer: dtype (I64 > F32 > BOOL), then name
    order = [k for k, _ in sorted(((k, v["data_offsets"][0]) for k, v in hdr.items() if k != "__metadata__"), key=lambda t: t[1])]
    truth("safetensors: buffer order as the reference writer (dtype desc, then name)", order == ["b", "zz.a", "c"], str(order))

    # --- all dtypes round trip, bit-exact ------------------------------------
    x32 = torch.randn(3, 5, generator=g)
    bf = (x32 * 100).to(torch.bfloat16)
    tensors = {
        "f64": torch.randn(2, 3, generator=g, dtype=torch.float64),
        "f32": x32,
        "f16": x32.half(),
        "bf16": bf,
        "i64": torch.randint(-2**40, 2**40, (4,), generator=g),
        "i32": torch.randint(-2**30, 2**30, (2, 2), generator=g, dtype=torch.int32),
        "i16": torch.tensor([-3, 4], dtype=torch.int16),
        "i8": torch.tensor([-128, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 255, 7], dtype=torch.uint8),
        "bool": torch.tensor([[True], [False]]),
        "scalar": torch.tensor(-1e4),
        "empty": torch.zeros(0, 3),
        "noncontig": torch.arange(12, dtype=torch.float32).view(3, 4).t(),
    }
    p = os.path.join(tmp, "all.safetensors")
    st.save_file(tensors, p)
    back = st.load_file(p)
    ok = set(back) == set(tensors)
    for k, v in tensors.items():
        w = back[k]
        ok &= w.dtype == v.dtype and tuple(w.shape) == tuple(v.shape)
        if v.dtype == torch.bfloat16:
            ok &= torch.equal(w.view(torch.int16), v.view(torch.int16))
        else:
            ok &= torch.equal(w, v.contiguous())
    truth("safetensors: F64/F32/F16/BF16/I64/I32/I16/I8/U8/BOOL, 0-d, empty, non-contiguous round trip bit-exact", ok)
    _, hdr, data, _ = parse_by_hand(p)
    s0, s1 = hdr["bf16"]["data_offsets"]
    bits = (x32 * 100).view(torch.int32).numpy() >> 16  # bf16 = upper half of fp32 (here after RNE rounding)
    stored = np.frombuffer(data[s0:s1], dtype="<u2").astype(np.int64).reshape(3, 5)
    truth("safetensors: BF16 stored as raw 16-bit patterns", np.array_equal(stored, bf.view(torch.int16).numpy().astype(np.int64) & 0xFFFF)
          and np.abs(stored - (bits & 0xFFFF)).max() <= 1)

    # numpy inputs, including big-endian
    arrs = {"le": np.arange(6, dtype=np.float32).reshape(2, 3), "be": np.array([1.5, -2.5], dtype=">f4"),
            "b": np.array([True, False]), "i": np.array([1, 2], dtype=np.int64)}
    p = os.path.join(tmp, "np.safetensors")
    st.save_file(arrs, p)
    back = st.load_file(p)
    truth("safetensors: numpy inputs (incl. big-endian) stored little-endian with correct values",
          all(np.array_equal(back[k].numpy(), v.astype(v.dtype.newbyteorder("="))) for k, v in arrs.items())
          and parse_by_hand(p)[1]["be"]["dtype"] == "F32")

    truth("safetensors: atomic write leaves no temp files", all(not f.endswith(".tmp") for f in os.listdir(tmp)))

    # --- corrupt files are rejected -----------------------------------------
    good = open(os.path.join(tmp, "small.safetensors"), "rb").read()
    bad_cases = {
        "truncated": good[:-3],
        "bad length": struct.pack("<Q", len(good)) + good[8:],
        "offset gap": good.replace(b'"data_offsets":[0,24]', b'"data_offsets":[8,32]'),
    }
    rej = []
    for why, blob in bad_cases.items():
        q = os.path.join(tmp, "bad.safetensors")
        open(q, "wb").write(blob)
        try:
            st.load_file(q)
            rej.append(why)
        except st.SafetensorsError:
            pass
    truth("safetensors: corrupt files rejected (truncated / bad header length / offset gap)", not rej, f"accepted: {rej}")

    # --- sharded ------------------------------------------------------------
    cfg = models.default_config("llama")
    sd = models.init_state_dict(cfg, seed=3)
    sdir = os.path.join(tmp, "sharded")
    wm = st.save_sharded(sd, sdir, 3)
    idx = json.load(open(os.path.join(sdir, st.INDEX_FILE_NAME)))
    files = sorted(os.listdir(sdir))
    exp_files = [f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)] + [st.INDEX_FILE_NAME]
    total = sum(v.numel() * v.element_size() for v in sd.values())
    truth("safetensors: sharded layout (3 shard files + index with weight_map/total_size)",
          files == sorted(exp_files) and idx["metadata"]["total_size"] == total and idx["weight_map"] == dict(wm)
          and set(idx["weight_map"]) == set(sd), str(files))
    back = st.load_checkpoint_dir(sdir)
    truth("safetensors: sharded load equals original (bit-exact)", set(back) == set(sd) and all(torch.equal(back[k], sd[k]) for k in sd))


# ============================================================================
# GPT-2
# ============================================================================


class NNGPT2(nn.Module):
    """GPT-2 from torch.nn modules; loads HF names (Conv1D weights transposed)."""

    def __init__(self, cfg, sd):
        super().__init__()
        d, nh = cfg["n_embd"], cfg["n_head"]
        f = cfg.get("n_inner") or 4 * d
        eps = cfg["layer_norm_epsilon"]
        P = "transformer." if "transformer.wte.weight" in sd else ""
        self.wte = nn.Embedding(cfg["vocab_size"], d)
        self.wpe = nn.Embedding(cfg["n_positions"], d)
        self.wte.weight.data.copy_(sd[P + "wte.weight"])
        self.wpe.weight.data.copy_(sd[P + "wpe.weight"])
        self.blocks = nn.ModuleList()
        for i in range(cfg["n_layer"]):
            h = f"{P}h.{i}."
            blk = nn.Module()
            blk.ln1, blk.ln2 = nn.LayerNorm(d, eps=eps), nn.LayerNorm(d, eps=eps)
            blk.attn = nn.MultiheadAttention(d, nh, dropout=0.0, bias=True, batch_first=True)
            blk.fc, blk.proj = nn.Linear(d, f), nn.Linear(f, d)
            blk.ln1.weight.data.copy_(sd[h + "ln_1.weight"]); blk.ln1.bias.data.copy_(sd[h + "ln_1.bias"])
            blk.ln2.weight.data.copy_(sd[h + "ln_2.weight"]); blk.ln2.bias.data.copy_(sd[h + "ln_2.bias"])
            blk.attn.in_proj_weight.data.copy_(sd[h + "attn.c_attn.weight"].t())
            blk.attn.in_proj_bias.data.copy_(sd[h + "attn.c_attn.bias"])
            blk.attn.out_proj.weight.data.copy_(sd[h + "attn.c_proj.weight"].t())
            blk.attn.out_proj.bias.data.copy_(sd[h + "attn.c_proj.bias"])
            blk.fc.weight.data.copy_(sd[h + "mlp.c_fc.weight"].t()); blk.fc.bias.data.copy_(sd[h + "mlp.c_fc.bias"])
            blk.proj.weight.data.copy_(sd[h + "mlp.c_proj.weight"].t()); blk.proj.bias.data.copy_(sd[h + "mlp.c_proj.bias"])
            self.blocks.append(blk)
        self.lnf = nn.LayerNorm(d, eps=eps)
        self.lnf.weight.data.copy_(sd[P + "ln_f.weight"]); self.lnf.bias.data.copy_(sd[P + "ln_f.bias"])
        self.eval()

    def forward(self, ids, mask=None, start=0):
        b, s = ids.shape
        x = self.wte(ids) + self.wpe(torch.arange(start, start + s))[None]
        causal = torch.triu(torch.ones(s, s, dtype=torch.bool), 1)  # True = blocked
        kpm = None if mask is None else (mask == 0)
        for blk in self.blocks:
            a = blk.ln1(x)
            x = x + blk.attn(a, a, a, attn_mask=causal, key_padding_mask=kpm, need_weights=False)[0]
            x = x + blk.proj(F.gelu(blk.fc(blk.ln2(x)), approximate="tanh"))
        return F.linear(self.lnf(x), self.wte.weight)


def check_gpt2():
    g = torch.Generator().manual_seed(11)
    x = torch.linspace(-6, 6, 1001)
    close("gpt2: gelu_new == F.gelu(approximate='tanh')", models.gelu_new(x), F.gelu(x, approximate="tanh"))
    for std, seed, extra in ((0.02, 0, {}), (0.3, 1, {}), (0.3, 2, dict(layers=3, hidden=48, heads=6, intermediate=80))):
        cfg = models.default_config("gpt2", **extra)
        sd = models.init_state_dict(cfg, seed=seed, std=std)
        ids = rand_ids(g, 3, 11, cfg["vocab_size"])
        ref = NNGPT2(cfg, sd)
        with torch.no_grad():
            close(f"gpt2 vs nn.MultiheadAttention model (std={std}, cfg={extra or 'default'})",
                  models.forward(cfg, sd, ids), ref(ids))
    cfg = models.default_config("gpt2")
    sd = models.init_state_dict(cfg, seed=5, std=0.3)
    ref = NNGPT2(cfg, sd)
    ids = rand_ids(g, 2, 9, cfg["vocab_size"])
    with torch.no_grad():
        mask = torch.tensor([[1] * 9, [1] * 6 + [0] * 3])
        got = models.forward(cfg, sd, ids, attention_mask=mask)
        exp = ref(ids, mask)
        close("gpt2 vs nn model with right-padding attention_mask (valid positions)", got[1, :6], exp[1, :6])
        close("gpt2 padded row == unpadded run (valid positions)", got[1, :6], models.forward(cfg, sd, ids[1:, :6])[0])
        lmask = torch.tensor([[1] * 9, [0] * 3 + [1] * 6])
        lpos = (lmask.cumsum(-1) - 1).clamp(min=0)
        got = models.forward(cfg, sd, ids, attention_mask=lmask, position_ids=lpos)
        close("gpt2 left-padded row (mask + position_ids) == unpadded run (valid positions)",
              got[1, 3:], models.forward(cfg, sd, ids[1:, 3:])[0])
        pos = torch.arange(7, 16)
        close("gpt2 vs nn model with position offset 7", models.forward(cfg, sd, ids, position_ids=pos), ref(ids, start=7))
        base = models.forward(cfg, sd, ids)
        ids2 = ids.clone(); ids2[:, -1] = (ids2[:, -1] + 1) % cfg["vocab_size"]
        pert = models.forward(cfg, sd, ids2)
        truth("gpt2 causal: changing the last token leaves earlier logits bit-identical",
              torch.equal(base[:, :-1], pert[:, :-1]) and not torch.equal(base[:, -1], pert[:, -1]))
        # real-checkpoint name variants
        unpref = {k[len("transformer."):]: v for k, v in sd.items()}
        close("gpt2 un-prefixed hub names give identical logits", models.forward(cfg, unpref, ids), base, rel=0)
        withbuf = dict(sd); withbuf.update(models.buffer_spec(cfg))
        close("gpt2 with attn.bias/attn.masked_bias buffers gives identical logits", models.forward(cfg, withbuf, ids), base, rel=0)


# ============================================================================
# BERT
# ============================================================================


def nn_bert(cfg, sd, ids, mask=None, tt=None, layers=None, mlm=True):
    H, nh, f = cfg["hidden_size"], cfg["num_attention_heads"], cfg["intermediate_size"]
    eps = cfg["layer_norm_eps"]
    b, s = ids.shape
    word = nn.Embedding.from_pretrained(sd["bert.embeddings.word_embeddings.weight"])
    posE = nn.Embedding.from_pretrained(sd["bert.embeddings.position_embeddings.weight"])
    ttE = nn.Embedding.from_pretrained(sd["bert.embeddings.token_type_embeddings.weight"])
    ln = nn.LayerNorm(H, eps=eps)
    ln.weight.data.copy_(sd["bert.embeddings.LayerNorm.weight"]); ln.bias.data.copy_(sd["bert.embeddings.LayerNorm.bias"])
    tt = torch.zeros_like(ids) if tt is None else tt
    x = ln(word(ids) + posE(torch.arange(s))[None] + ttE(tt))
    kpm = None if mask is None else (mask == 0)
    n = cfg["num_hidden_layers"] if layers is None else layers
    for i in range(n):
        L = f"bert.encoder.layer.{i}."
        layer = nn.TransformerEncoderLayer(H, nh, dim_feedforward=f, dropout=0.0, activation="gelu",
                                           layer_norm_eps=eps, batch_first=True, norm_first=False)
        sa = layer.self_attn
        sa.in_proj_weight.data.copy_(torch.cat([sd[L + f"attention.self.{m}.weight"] for m in ("query", "key", "value")]))
        sa.in_proj_bias.data.copy_(torch.cat([sd[L + f"attention.self.{m}.bias"] for m in ("query", "key", "value")]))
        sa.out_proj.weight.data.copy_(sd[L + "attention.output.dense.weight"])
        sa.out_proj.bias.data.copy_(sd[L + "attention.output.dense.bias"])
        layer.norm1.weight.data.copy_(sd[L + "attention.output.LayerNorm.weight"])
        layer.norm1.bias.data.copy_(sd[L + "attention.output.LayerNorm.bias"])
        layer.linear1.weight.data.copy_(sd[L + "intermediate.dense.weight"]); layer.linear1.bias.data.copy_(sd[L + "intermediate.dense.bias"])
        layer.linear2.weight.data.copy_(sd[L + "output.dense.weight"]); layer.linear2.bias.data.copy_(sd[L + "output.dense.bias"])
        layer.norm2.weight.data.copy_(sd[L + "output.LayerNorm.weight"]); layer.norm2.bias.data.copy_(sd[L + "output.LayerNorm.bias"])
        layer.eval()
        # grad enabled + params requiring grad => the regular (non-"fast path",
        # non-nested-tensor) implementation, which keeps padded positions.
        with torch.enable_grad():
            x = layer(x, src_key_padding_mask=kpm).detach()
    if not mlm:
        return x
    T = "cls.predictions.transform."
    t = F.gelu(F.linear(x, sd[T + "dense.weight"], sd[T + "dense.bias"]))
    t = F.layer_norm(t, (H,), sd[T + "LayerNorm.weight"], sd[T + "LayerNorm.bias"], eps)
    return F.linear(t, sd["bert.embeddings.word_embeddings.weight"], sd["cls.predictions.bias"])


def check_bert():
    g = torch.Generator().manual_seed(21)
    x = torch.linspace(-6, 6, 1001)
    close("bert: exact gelu == F.gelu (erf)", models.gelu_exact(x), F.gelu(x))
    cfg1 = models.default_config("bert", layers=1)
    sd1 = models.init_state_dict(cfg1, seed=7, std=0.3)
    ids = rand_ids(g, 2, 10, cfg1["vocab_size"])
    mask = torch.tensor([[1] * 10, [1] * 7 + [0] * 3])
    close("bert: embeddings + 1 encoder layer vs nn.TransformerEncoderLayer (no mask)",
          models.forward(cfg1, sd1, ids, return_hidden=True), nn_bert(cfg1, sd1, ids, mlm=False))
    close("bert: embeddings + 1 encoder layer vs nn.TransformerEncoderLayer (padding mask, all positions)",
          models.forward(cfg1, sd1, ids, attention_mask=mask, return_hidden=True), nn_bert(cfg1, sd1, ids, mask, mlm=False))
    for std, seed, extra in ((0.02, 0, {}), (0.3, 1, {}), (0.3, 2, dict(layers=3, hidden=48, heads=6, intermediate=72))):
        cfg = models.default_config("bert", **extra)
        sd = models.init_state_dict(cfg, seed=seed, std=std)
        ids = rand_ids(g, 2, 10, cfg["vocab_size"])
        tt = torch.tensor([[0] * 5 + [1] * 5, [0] * 10])
        close(f"bert MLM logits vs nn.TransformerEncoderLayer model (std={std}, mask+token_type, cfg={extra or 'default'})",
              models.forward(cfg, sd, ids, attention_mask=mask, token_type_ids=tt), nn_bert(cfg, sd, ids, mask, tt))
    cfg = models.default_config("bert")
    sd = models.init_state_dict(cfg, seed=9, std=0.3)
    with torch.no_grad():
        base = models.forward(cfg, sd, ids, attention_mask=mask)
        ids2 = ids.clone(); ids2[1, 7:] = (ids2[1, 7:] + 5) % cfg["vocab_size"]
        pert = models.forward(cfg, sd, ids2, attention_mask=mask)
        close("bert: valid positions invariant to padded tokens' ids", pert[1, :7], base[1, :7])
        close("bert: padded row == unpadded run (valid positions)", base[1, :7], models.forward(cfg, sd, ids[1:, :7])[0])
        ids3 = ids.clone(); ids3[0, -1] = (ids3[0, -1] + 1) % cfg["vocab_size"]
        d = (models.forward(cfg, sd, ids3) - models.forward(cfg, sd, ids))[0].abs().amax(-1)
        truth("bert bidirectional: changing the last token changes every position", bool((d > 0).all()))
        legacy = {}
        for k, v in sd.items():
            k = k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
            legacy[k] = v
        legacy["cls.predictions.decoder.weight"] = sd["bert.embeddings.word_embeddings.weight"]
        legacy["cls.predictions.decoder.bias"] = sd["cls.predictions.bias"]
        legacy.update(models.buffer_spec(cfg))
        legacy["bert.pooler.dense.weight"] = torch.zeros(32, 32)
        legacy["bert.pooler.dense.bias"] = torch.zeros(32)
        close("bert: legacy gamma/beta names + decoder copies + position_ids + pooler give identical logits",
              models.forward(cfg, legacy, ids, attention_mask=mask), base, rel=0)
        bare = {k[len("bert."):]: v for k, v in sd.items() if k.startswith("bert.")}
        close("bert: bare BertModel names (no 'bert.' prefix) give identical encoder output",
              models.bert_encoder(cfg, dict(bare, **{k: v for k, v in sd.items() if k.startswith("cls.")}), ids, mask),
              models.forward(cfg, sd, ids, attention_mask=mask, return_hidden=True), rel=0)


# ============================================================================
# LLaMA
# ============================================================================


def hf_to_meta_rows(w, n_heads):
    """Inverse of the HF conversion permute: rotate_half row order -> Meta's
    interleaved (re, im) pairs, per head."""
    out_dim, in_dim = w.shape
    dh = out_dim // n_heads
    return w.view(n_heads, 2, dh // 2, in_dim).transpose(1, 2).reshape(out_dim, in_dim)


def meta_freqs_cis(dh, positions, theta):
    inv = 1.0 / (theta ** (torch.arange(0, dh, 2, dtype=torch.float64)[: dh // 2] / dh))
    ang = torch.outer(positions.double(), inv)
    return torch.polar(torch.ones_like(ang), ang).to(torch.complex64)  # [S, dh/2]


def meta_rope(x, fc):
    """x: [B, S, n, dh] with interleaved pairs; fc: [S, dh/2] complex."""
    xc = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
    return torch.view_as_real(xc * fc[None, :, None, :]).flatten(3)


def meta_llama(cfg, sd, ids, start=0):
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads") or nh
    dh = H // nh
    eps = cfg["rms_norm_eps"]
    b, s = ids.shape

    def norm(x, w):
        return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    fc = meta_freqs_cis(dh, torch.arange(start, start + s), float(cfg["rope_theta"]))
    mask = torch.full((s, s), float("-inf")).triu(1)
    x = sd["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        L = f"model.layers.{i}."
        wq = hf_to_meta_rows(sd[L + "self_attn.q_proj.weight"], nh)
        wk = hf_to_meta_rows(sd[L + "self_attn.k_proj.weight"], nkv)
        wv, wo = sd[L + "self_attn.v_proj.weight"], sd[L + "self_attn.o_proj.weight"]
        h = norm(x, sd[L + "input_layernorm.weight"])
        xq = meta_rope((h @ wq.t()).view(b, s, nh, dh), fc)
        xk = meta_rope((h @ wk.t()).view(b, s, nkv, dh), fc)
        xv = (h @ wv.t()).view(b, s, nkv, dh)
        heads = []
        for hh in range(nh):
            kv = hh // (nh // nkv)
            sc = xq[:, :, hh] @ xk[:, :, kv].transpose(1, 2) / math.sqrt(dh) + mask
            heads.append(torch.softmax(sc, -1) @ xv[:, :, kv])
        x = x + torch.cat(heads, -1) @ wo.t()
        h = norm(x, sd[L + "post_attention_layernorm.weight"])
        w1, w2, w3 = (sd[L + f"mlp.{m}.weight"] for m in ("gate_proj", "down_proj", "up_proj"))
        x = x + (F.silu(h @ w1.t()) * (h @ w3.t())) @ w2.t()
    x = norm(x, sd["model.norm.weight"])
    out = sd["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else sd["lm_head.weight"]
    return x @ out.t()


def check_llama():
    g = torch.Generator().manual_seed(31)
    # RoPE alone: HF rotate_half on random heads vs complex rotation in Meta layout
    cfg = models.default_config("llama", hidden=64, heads=4)
    dh = 16
    q = torch.randn(2, 4, 9, dh, generator=g)  # [B, n, S, Dh], HF layout
    pos = torch.arange(3, 12)
    cos, sin = models.rope_cos_sin(cfg, pos[None].expand(2, 9))
    got = models.apply_rope(q, cos, sin)
    # HF -> Meta layout within each head: meta[2i] = hf[i], meta[2i+1] = hf[i + dh/2]
    perm = torch.stack([torch.arange(dh // 2), torch.arange(dh // 2) + dh // 2], -1).reshape(-1)
    qm = q[..., perm].transpose(1, 2)  # [B, S, n, Dh]
    rot = meta_rope(qm, meta_freqs_cis(dh, pos, 10000.0)).transpose(1, 2)
    inv = torch.argsort(perm)
    close("llama: RoPE rotate_half vs complex rotation (permuted layout, positions 3..11)", got, rot[..., inv])
    x = torch.randn(3, 5, 32, generator=g)
    w = 1 + 0.1 * torch.randn(32, generator=g)
    close("llama: RMSNorm vs x/sqrt(mean(x^2)+eps)*w", models.rms_norm(x, w, 1e-6),
          x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w)
    variants = [
        (0.02, dict()),
        (0.3, dict()),                                   # GQA 4 heads / 2 kv
        (0.3, dict(kv_heads=4)),                         # MHA
        (0.3, dict(kv_heads=1, heads=8, hidden=64)),     # MQA
        (0.3, dict(tie=True, rope_theta=500000.0, layers=3, intermediate=40)),
    ]
    for j, (std, extra) in enumerate(variants):
        cfg = models.default_config("llama", **extra)
        sd = models.init_state_dict(cfg, seed=j, std=std)
        ids = rand_ids(g, 2, 12, cfg["vocab_size"])
        with torch.no_grad():
            close(f"llama vs Meta-style complex-RoPE model (std={std}, {extra or 'default GQA 4/2'})",
                  models.forward(cfg, sd, ids), meta_llama(cfg, sd, ids))
    cfg = models.default_config("llama")
    sd = models.init_state_dict(cfg, seed=7, std=0.3)
    ids = rand_ids(g, 2, 10, cfg["vocab_size"])
    with torch.no_grad():
        close("llama vs Meta-style model with position offset 5",
              models.forward(cfg, sd, ids, position_ids=torch.arange(5, 15)), meta_llama(cfg, sd, ids, start=5))
        base = models.forward(cfg, sd, ids)
        ids2 = ids.clone(); ids2[:, -1] = (ids2[:, -1] + 1) % cfg["vocab_size"]
        pert = models.forward(cfg, sd, ids2)
        truth("llama causal: changing the last token leaves earlier logits bit-identical",
              torch.equal(base[:, :-1], pert[:, :-1]) and not torch.equal(base[:, -1], pert[:, -1]))
        mask = torch.tensor([[1] * 10, [1] * 6 + [0] * 4])
        got = models.forward(cfg, sd, ids, attention_mask=mask)
        close("llama padded row == unpadded run (valid positions)", got[1, :6], models.forward(cfg, sd, ids[1:, :6])[0])
        lmask = torch.tensor([[1] * 10, [0] * 4 + [1] * 6])
        lpos = (lmask.cumsum(-1) - 1).clamp(min=0)
        got = models.forward(cfg, sd, ids, attention_mask=lmask, position_ids=lpos)
        close("llama left-padded row (mask + position_ids) == unpadded run (valid positions)",
              got[1, 4:], models.forward(cfg, sd, ids[1:, 4:])[0])
        withbuf = dict(sd); withbuf.update(models.buffer_spec(cfg))
        close("llama with rotary_emb.inv_freq buffers gives identical logits", models.forward(cfg, withbuf, ids), base, rel=0)
        inv_buf = models.buffer_spec(cfg)["model.layers.0.self_attn.rotary_emb.inv_freq"]
        close("llama inv_freq == 1/theta^(arange(0,Dh,2)/Dh)", inv_buf,
              1.0 / (10000.0 ** (torch.arange(0, 8, 2).double() / 8)))


# ============================================================================
# Files + CLI end to end
# ============================================================================


def check_files_and_cli():
    tmp = tempfile.mkdtemp(prefix="llmref-cli-")
    TEMP_DIRS.append(tmp)
    make = os.path.join(UTILS, "make-tiny-model.py")
    ref = os.path.join(UTILS, "ref-forward.py")
    py = sys.executable
    env = dict(os.environ, OMP_NUM_THREADS="1")
    g = torch.Generator().manual_seed(41)
    ids = rand_ids(g, 2, 6, 97)
    cases = [
        ("gpt2", []), ("gpt2", ["--gpt2-unprefixed", "--with-buffers", "--shards", "3"]),
        ("bert", ["--with-buffers"]), ("bert", ["--dtype", "bf16", "--shards", "2"]),
        ("llama", []), ("llama", ["--with-buffers", "--dtype", "f16", "--tie", "--shards", "4", "--kv-heads", "1"]),
    ]
    for fam, extra in cases:
        out = os.path.join(tmp, fam + "".join(a.strip("-") for a in extra))
        r = subprocess.run([py, make, "--family", fam, "--out", out, "--seed", "4"] + extra,
                           capture_output=True, text=True, env=env)
        if r.returncode:
            _report(f"make-tiny-model {fam} {' '.join(extra)}", False, r.stderr.strip()[-300:])
            continue
        cfg, raw = models.load_model_dir(out)
        # in-memory expectation: same seed, same dtype rounding
        kw = {}
        if "--kv-heads" in extra:
            kw["kv_heads"] = int(extra[extra.index("--kv-heads") + 1])
        if "--tie" in extra:
            kw["tie"] = True
        cfg_exp = models.default_config(fam, **kw)
        sd_exp = models.init_state_dict(cfg_exp, seed=4)
        dt = {"bf16": torch.bfloat16, "f16": torch.float16}.get(extra[extra.index("--dtype") + 1] if "--dtype" in extra else "", None)
        if dt is not None:
            sd_exp = {k: v.to(dt) for k, v in sd_exp.items()}
        mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2]) if fam == "bert" else None
        with torch.no_grad():
            got = models.forward(cfg, raw, ids, attention_mask=mask)
            exp = models.forward(cfg_exp, sd_exp, ids, attention_mask=mask)
        names_ok = True
        if "--gpt2-unprefixed" in extra:
            names_ok = "wte.weight" in raw and "h.0.attn.bias" in raw and not any(k.startswith("transformer.") for k in raw)
        if "--with-buffers" in extra and fam == "bert":
            names_ok = raw["bert.embeddings.position_ids"].dtype == torch.int64
        if fam == "llama" and "--tie" in extra:
            names_ok = "lm_head.weight" not in raw and cfg["tie_word_embeddings"] is True
        label = f"{fam} {' '.join(extra) or '(defaults)'}"
        truth(f"files: make-tiny-model {label}: expected tensor names / dtypes / tie in the folder", names_ok)
        close(f"files: make-tiny-model {label} -> load -> forward == in-memory", got, exp, rel=0)
        # ref-forward CLI
        npy = os.path.join(tmp, f"{os.path.basename(out)}.npy")
        tok = ";".join(",".join(str(int(t)) for t in row) for row in ids)
        cmd = [py, ref, out, "--tokens", tok, "--out", npy]
        if mask is not None:
            cmd += ["--attention-mask", ";".join(",".join(str(int(t)) for t in row) for row in mask)]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if r.returncode:
            _report(f"ref-forward {fam} {' '.join(extra)}", False, r.stderr.strip()[-300:])
            continue
        close(f"cli: ref-forward.py {fam} {' '.join(extra) or '(defaults)'} .npy == models.forward", torch.from_numpy(np.load(npy)), got, rel=0)
    cfg = models.default_config("gpt2")
    a = models.init_state_dict(cfg, seed=123)
    b = models.init_state_dict(cfg, seed=123)
    c = models.init_state_dict(cfg, seed=124)
    truth("init_state_dict is deterministic per seed",
          all(torch.equal(a[k], b[k]) for k in a) and not torch.equal(a["transformer.wte.weight"], c["transformer.wte.weight"]))


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"llm_ref selfcheck: torch {torch.__version__}, numpy {np.__version__}; "
          f"criterion max|got-ref| <= {REL_TOL:g} * max(1, max|ref|) unless stated (rel=0 means bit-identical)")
    for fn in (check_safetensors, check_gpt2, check_bert, check_llama, check_files_and_cli):
        run(fn)
    for d in TEMP_DIRS:
        shutil.rmtree(d, ignore_errors=True)
    n_fail = sum(1 for _, ok in RESULTS if not ok)
    print(f"\n{len(RESULTS) - n_fail}/{len(RESULTS)} checks passed" + (f", {n_fail} FAILED" if n_fail else ""))
    sys.exit(1 if n_fail else 0)


if __name__ == "__main__":
    main()
