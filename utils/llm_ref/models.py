"""Pure-PyTorch reference forward passes for GPT-2, BERT and LLaMA that read
Hugging Face checkpoints (exact HF tensor names, shapes and layouts).

Everything runs in fp32, in "eval mode" (no dropout), without a KV cache.
Checkpoint tensors stored as F16/BF16 are upcast to fp32 on use.

Public entry points
-------------------
    forward(config, state, input_ids, attention_mask=None, token_type_ids=None,
            position_ids=None, return_hidden=False) -> logits [B, S, V]
        dispatches on config["model_type"] in {"gpt2", "bert", "llama"}.
    gpt2_forward / bert_forward / llama_forward: the same, per family.
    bert_encoder(...)          -> last encoder hidden state [B, S, H]
    canonicalize_state_dict(config, state) -> state with canonical names
    param_spec(config)         -> list of (name, shape, kind) of the checkpoint
    buffer_spec(config)        -> optional non-parameter buffers of real checkpoints
    default_config(family, **overrides) -> HF-style config dict
    init_state_dict(config, seed=0, std=0.02, with_buffers=False)
    load_model_dir(path)       -> (config, state) from config.json + safetensors

Canonical tensor names (what save_pretrained writes):

  GPT-2 (GPT2LMHeadModel; lm_head.weight tied to wte and not stored):
    transformer.wte.weight                 [V, D]
    transformer.wpe.weight                 [P, D]
    transformer.h.{i}.ln_1.{weight,bias}   [D]
    transformer.h.{i}.attn.c_attn.weight   [D, 3D]   Conv1D: y = x @ W + b
    transformer.h.{i}.attn.c_attn.bias     [3D]      (q | k | v along the last dim)
    transformer.h.{i}.attn.c_proj.weight   [D, D]
    transformer.h.{i}.attn.c_proj.bias     [D]
    transformer.h.{i}.ln_2.{weight,bias}   [D]
    transformer.h.{i}.mlp.c_fc.weight      [D, F]
    transformer.h.{i}.mlp.c_fc.bias        [F]
    transformer.h.{i}.mlp.c_proj.weight    [F, D]
    transformer.h.{i}.mlp.c_proj.bias      [D]
    transformer.ln_f.{weight,bias}         [D]
    buffers (ignored): transformer.h.{i}.attn.bias [1,1,P,P] (bool/u8 tril),
                       transformer.h.{i}.attn.masked_bias [] (f32, -1e4)
    The original `gpt2` hub checkpoint uses the same names without the
    "transformer." prefix; both are accepted.

  BERT (BertForMaskedLM; decoder weight tied to word_embeddings, decoder bias
  is the same Parameter as cls.predictions.bias; neither copy is stored):
    bert.embeddings.word_embeddings.weight        [V, H]
    bert.embeddings.position_embeddings.weight    [P, H]
    bert.embeddings.token_type_embeddings.weight  [T, H]
    bert.embeddings.LayerNorm.{weight,bias}       [H]
    bert.encoder.layer.{i}.attention.self.{query,key,value}.weight [H, H] (nn.Linear [out, in])
    bert.encoder.layer.{i}.attention.self.{query,key,value}.bias   [H]
    bert.encoder.layer.{i}.attention.output.dense.{weight [H,H], bias [H]}
    bert.encoder.layer.{i}.attention.output.LayerNorm.{weight,bias} [H]
    bert.encoder.layer.{i}.intermediate.dense.{weight [F,H], bias [F]}
    bert.encoder.layer.{i}.output.dense.{weight [H,F], bias [H]}
    bert.encoder.layer.{i}.output.LayerNorm.{weight,bias} [H]
    cls.predictions.bias                          [V]
    cls.predictions.transform.dense.{weight [H,H], bias [H]}
    cls.predictions.transform.LayerNorm.{weight,bias} [H]
    optional: cls.predictions.decoder.weight [V,H] (used only if
              tie_word_embeddings is false), cls.predictions.decoder.bias [V]
    buffer (ignored): bert.embeddings.position_ids [1, P] int64 (arange)
    Also accepted: legacy LayerNorm names *.gamma / *.beta, the un-prefixed
    names of a bare BertModel ("embeddings.*", "encoder.*"), and (ignored)
    bert.pooler.*, cls.seq_relationship.*.
    BertForPreTraining adds next-sentence prediction after the MLM head:
    bert.pooler.dense.{weight [H,H], bias [H]} (after the encoder),
    cls.seq_relationship.{weight [2,H], bias [2]} (last).
    BertForSequenceClassification has, instead of cls.predictions.*:
    bert.pooler.dense.{weight [H,H], bias [H]}, classifier.{weight [C,H],
    bias [C]}.

  LLaMA (LlamaForCausalLM), Dh = head_dim = hidden_size / num_attention_heads:
    model.embed_tokens.weight                          [V, H]
    model.layers.{i}.input_layernorm.weight            [H]
    model.layers.{i}.self_attn.q_proj.weight           [nH*Dh, H]
    model.layers.{i}.self_attn.k_proj.weight           [nKV*Dh, H]
    model.layers.{i}.self_attn.v_proj.weight           [nKV*Dh, H]
    model.layers.{i}.self_attn.o_proj.weight           [H, nH*Dh]
    model.layers.{i}.post_attention_layernorm.weight   [H]
    model.layers.{i}.mlp.gate_proj.weight              [F, H]
    model.layers.{i}.mlp.up_proj.weight                [F, H]
    model.layers.{i}.mlp.down_proj.weight              [H, F]
    model.norm.weight                                  [H]
    lm_head.weight                                     [V, H]  (absent when tie_word_embeddings)
    q/k rows are in HF's "rotate_half" order (the two halves of each head are
    the real/imaginary parts), not Meta's interleaved order.
    buffer (ignored): model.layers.{i}.self_attn.rotary_emb.inv_freq [Dh/2]
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F

try:  # package import (from llm_ref import models)
    from .safetensors_io import load_checkpoint_dir
except ImportError:  # pragma: no cover - direct script import
    from safetensors_io import load_checkpoint_dir  # type: ignore

FAMILIES = ("gpt2", "bert", "llama")

# ----------------------------------------------------------------------------
# Activations (same formulas as transformers.activations)
# ----------------------------------------------------------------------------


def gelu_new(x: torch.Tensor) -> torch.Tensor:
    """GPT-2's "gelu_new": tanh approximation of GELU."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gelu_exact(x: torch.Tensor) -> torch.Tensor:
    """BERT's "gelu": x * Phi(x) with the exact erf."""
    return x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


ACT2FN = {
    "gelu": gelu_exact,
    "gelu_new": gelu_new,
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
}


def _act(name: str):
    if name not in ACT2FN:
        raise NotImplementedError(f"activation {name!r} not supported (have {sorted(ACT2FN)})")
    return ACT2FN[name]


# ----------------------------------------------------------------------------
# Configs
# ----------------------------------------------------------------------------


def default_config(family: str, **kw) -> Dict:
    """An HF-style config.json dict for a tiny model of `family`.

    Keyword overrides use the generic names layers, hidden, heads, kv_heads,
    vocab, ctx, intermediate, tie (None = family default); any other keyword
    is set verbatim as a config key."""
    layers = kw.pop("layers", None) or 2
    hidden = kw.pop("hidden", None) or 32
    heads = kw.pop("heads", None) or 4
    kv_heads = kw.pop("kv_heads", None)
    vocab = kw.pop("vocab", None) or 97
    ctx = kw.pop("ctx", None) or 32
    inter = kw.pop("intermediate", None)
    tie = kw.pop("tie", None)
    if hidden % heads:
        raise ValueError(f"hidden ({hidden}) must be divisible by heads ({heads})")
    if family == "gpt2":
        cfg = OrderedDict(
            architectures=["GPT2LMHeadModel"],
            model_type="gpt2",
            vocab_size=vocab,
            n_positions=ctx,
            n_ctx=ctx,
            n_embd=hidden,
            n_layer=layers,
            n_head=heads,
            n_inner=inter,  # None -> 4 * n_embd
            activation_function="gelu_new",
            layer_norm_epsilon=1e-5,
            resid_pdrop=0.1,
            embd_pdrop=0.1,
            attn_pdrop=0.1,
            initializer_range=0.02,
            scale_attn_weights=True,
            scale_attn_by_inverse_layer_idx=False,
            reorder_and_upcast_attn=False,
            bos_token_id=vocab - 1,
            eos_token_id=vocab - 1,
            tie_word_embeddings=True if tie is None else bool(tie),
            use_cache=True,
            torch_dtype="float32",
        )
    elif family == "bert":
        cfg = OrderedDict(
            architectures=["BertForMaskedLM"],
            model_type="bert",
            vocab_size=vocab,
            hidden_size=hidden,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            intermediate_size=inter or 4 * hidden,
            hidden_act="gelu",
            hidden_dropout_prob=0.1,
            attention_probs_dropout_prob=0.1,
            max_position_embeddings=ctx,
            type_vocab_size=2,
            initializer_range=0.02,
            layer_norm_eps=1e-12,
            pad_token_id=0,
            position_embedding_type="absolute",
            tie_word_embeddings=True if tie is None else bool(tie),
            use_cache=True,
            torch_dtype="float32",
        )
    elif family == "llama":
        cfg = OrderedDict(
            architectures=["LlamaForCausalLM"],
            model_type="llama",
            vocab_size=vocab,
            hidden_size=hidden,
            intermediate_size=inter or 64,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=kv_heads or 2,
            hidden_act="silu",
            max_position_embeddings=ctx,
            initializer_range=0.02,
            rms_norm_eps=1e-6,
            rope_theta=10000.0,
            rope_scaling=None,
            attention_bias=False,
            attention_dropout=0.0,
            mlp_bias=False,
            pretraining_tp=1,
            bos_token_id=1,
            eos_token_id=2,
            tie_word_embeddings=False if tie is None else bool(tie),
            use_cache=True,
            torch_dtype="float32",
        )
        if heads % cfg["num_key_value_heads"]:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")
    else:
        raise ValueError(f"unknown family {family!r}; expected one of {FAMILIES}")
    cfg.update(kw)
    return dict(cfg)


def _gpt2_dims(cfg):
    d = cfg["n_embd"]
    return d, cfg["n_head"], cfg.get("n_inner") or 4 * d, cfg["n_layer"]


def _llama_head_dim(cfg):
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def _llama_kv_heads(cfg):
    return cfg.get("num_key_value_heads") or cfg["num_attention_heads"]


# ----------------------------------------------------------------------------
# Parameter specs, canonical names, random init
# ----------------------------------------------------------------------------

# kinds: "embed" and "weight" -> normal(0, std); "bias" -> small noise;
# "norm_w" -> 1 + noise; "norm_b" -> noise.


CLASSIFIER_ARCHITECTURES = ("GPT2ForSequenceClassification", "LlamaForSequenceClassification",
                            "BertForSequenceClassification")


def num_labels(config: Dict) -> int:
    """The classes of a *ForSequenceClassification config's `score` head
    (num_labels, else len(id2label), else 2); 0 for a language model."""
    if not any(a in CLASSIFIER_ARCHITECTURES for a in config.get("architectures") or []):
        return 0
    if config.get("num_labels") is not None:
        return int(config["num_labels"])
    return len(config["id2label"]) if config.get("id2label") else 2


def next_sentence(config: Dict) -> bool:
    """Whether a BERT config has BertForPreTraining's next-sentence head."""
    return (not num_labels(config)
            and "BertForPreTraining" in (config.get("architectures") or []))


def param_spec(config: Dict) -> List[Tuple[str, Tuple[int, ...], str]]:
    """Tensors a checkpoint written by save_pretrained holds, in HF order."""
    mt = config["model_type"]
    spec: List[Tuple[str, Tuple[int, ...], str]] = []
    if mt == "gpt2":
        d, _, f, n = _gpt2_dims(config)
        v, p = config["vocab_size"], config["n_positions"]
        p_ = "transformer."
        spec += [(p_ + "wte.weight", (v, d), "embed"), (p_ + "wpe.weight", (p, d), "embed")]
        for i in range(n):
            h = f"{p_}h.{i}."
            spec += [
                (h + "ln_1.weight", (d,), "norm_w"),
                (h + "ln_1.bias", (d,), "norm_b"),
                (h + "attn.c_attn.weight", (d, 3 * d), "weight"),
                (h + "attn.c_attn.bias", (3 * d,), "bias"),
                (h + "attn.c_proj.weight", (d, d), "weight"),
                (h + "attn.c_proj.bias", (d,), "bias"),
                (h + "ln_2.weight", (d,), "norm_w"),
                (h + "ln_2.bias", (d,), "norm_b"),
                (h + "mlp.c_fc.weight", (d, f), "weight"),
                (h + "mlp.c_fc.bias", (f,), "bias"),
                (h + "mlp.c_proj.weight", (f, d), "weight"),
                (h + "mlp.c_proj.bias", (d,), "bias"),
            ]
        spec += [(p_ + "ln_f.weight", (d,), "norm_w"), (p_ + "ln_f.bias", (d,), "norm_b")]
        if num_labels(config):
            spec.append(("score.weight", (num_labels(config), d), "weight"))
        elif not config.get("tie_word_embeddings", True):
            spec.append(("lm_head.weight", (v, d), "weight"))
    elif mt == "bert":
        hdim, f, v = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
        e = "bert.embeddings."
        spec += [
            (e + "word_embeddings.weight", (v, hdim), "embed"),
            (e + "position_embeddings.weight", (config["max_position_embeddings"], hdim), "embed"),
            (e + "token_type_embeddings.weight", (config.get("type_vocab_size", 2), hdim), "embed"),
            (e + "LayerNorm.weight", (hdim,), "norm_w"),
            (e + "LayerNorm.bias", (hdim,), "norm_b"),
        ]
        for i in range(config["num_hidden_layers"]):
            l = f"bert.encoder.layer.{i}."
            for m in ("query", "key", "value"):
                spec += [
                    (l + f"attention.self.{m}.weight", (hdim, hdim), "weight"),
                    (l + f"attention.self.{m}.bias", (hdim,), "bias"),
                ]
            spec += [
                (l + "attention.output.dense.weight", (hdim, hdim), "weight"),
                (l + "attention.output.dense.bias", (hdim,), "bias"),
                (l + "attention.output.LayerNorm.weight", (hdim,), "norm_w"),
                (l + "attention.output.LayerNorm.bias", (hdim,), "norm_b"),
                (l + "intermediate.dense.weight", (f, hdim), "weight"),
                (l + "intermediate.dense.bias", (f,), "bias"),
                (l + "output.dense.weight", (hdim, f), "weight"),
                (l + "output.dense.bias", (hdim,), "bias"),
                (l + "output.LayerNorm.weight", (hdim,), "norm_w"),
                (l + "output.LayerNorm.bias", (hdim,), "norm_b"),
            ]
        if num_labels(config) or next_sentence(config):
            spec += [
                ("bert.pooler.dense.weight", (hdim, hdim), "weight"),
                ("bert.pooler.dense.bias", (hdim,), "bias"),
            ]
        if num_labels(config):
            spec += [
                ("classifier.weight", (num_labels(config), hdim), "weight"),
                ("classifier.bias", (num_labels(config),), "bias"),
            ]
            return spec
        spec += [
            ("cls.predictions.bias", (v,), "bias"),
            ("cls.predictions.transform.dense.weight", (hdim, hdim), "weight"),
            ("cls.predictions.transform.dense.bias", (hdim,), "bias"),
            ("cls.predictions.transform.LayerNorm.weight", (hdim,), "norm_w"),
            ("cls.predictions.transform.LayerNorm.bias", (hdim,), "norm_b"),
        ]
        if not config.get("tie_word_embeddings", True):
            spec.append(("cls.predictions.decoder.weight", (v, hdim), "weight"))
        if next_sentence(config):
            spec += [("cls.seq_relationship.weight", (2, hdim), "weight"),
                     ("cls.seq_relationship.bias", (2,), "bias")]
    elif mt == "llama":
        hdim, f, v = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
        nh, nkv, dh = config["num_attention_heads"], _llama_kv_heads(config), _llama_head_dim(config)
        attn_bias = bool(config.get("attention_bias", False))
        mlp_bias = bool(config.get("mlp_bias", False))
        spec.append(("model.embed_tokens.weight", (v, hdim), "embed"))
        for i in range(config["num_hidden_layers"]):
            l = f"model.layers.{i}."
            spec.append((l + "input_layernorm.weight", (hdim,), "norm_w"))
            for m, rows in (("q_proj", nh * dh), ("k_proj", nkv * dh), ("v_proj", nkv * dh)):
                spec.append((l + f"self_attn.{m}.weight", (rows, hdim), "weight"))
                if attn_bias:
                    spec.append((l + f"self_attn.{m}.bias", (rows,), "bias"))
            spec.append((l + "self_attn.o_proj.weight", (hdim, nh * dh), "weight"))
            if attn_bias:
                spec.append((l + "self_attn.o_proj.bias", (hdim,), "bias"))
            spec.append((l + "post_attention_layernorm.weight", (hdim,), "norm_w"))
            for m, shape in (("gate_proj", (f, hdim)), ("up_proj", (f, hdim)), ("down_proj", (hdim, f))):
                spec.append((l + f"mlp.{m}.weight", shape, "weight"))
                if mlp_bias:
                    spec.append((l + f"mlp.{m}.bias", (shape[0],), "bias"))
        spec.append(("model.norm.weight", (hdim,), "norm_w"))
        if num_labels(config):
            spec.append(("score.weight", (num_labels(config), hdim), "weight"))
        elif not config.get("tie_word_embeddings", False):
            spec.append(("lm_head.weight", (v, hdim), "weight"))
    else:
        raise ValueError(f"unsupported model_type {mt!r}")
    return spec


def buffer_spec(config: Dict) -> "OrderedDict[str, torch.Tensor]":
    """Non-parameter buffers that (older) real checkpoints carry. The
    reference ignores all of them; a loader must tolerate them."""
    mt = config["model_type"]
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    if mt == "gpt2":
        p = config["n_positions"]
        tril = torch.tril(torch.ones((p, p), dtype=torch.bool)).view(1, 1, p, p)
        for i in range(config["n_layer"]):
            out[f"transformer.h.{i}.attn.bias"] = tril.clone()
            out[f"transformer.h.{i}.attn.masked_bias"] = torch.tensor(-1e4, dtype=torch.float32)
    elif mt == "bert":
        out["bert.embeddings.position_ids"] = torch.arange(config["max_position_embeddings"], dtype=torch.int64).view(1, -1)
    elif mt == "llama":
        dh = _llama_head_dim(config)
        inv = 1.0 / (float(config.get("rope_theta", 10000.0)) ** (torch.arange(0, dh, 2, dtype=torch.int64).float() / dh))
        for i in range(config["num_hidden_layers"]):
            out[f"model.layers.{i}.self_attn.rotary_emb.inv_freq"] = inv.clone()
    return out


def init_state_dict(config: Dict, seed: int = 0, std: float = 0.02, with_buffers: bool = False,
                    norm_noise: float = 0.1, bias_noise: float = 0.02) -> "OrderedDict[str, torch.Tensor]":
    """Deterministic random fp32 weights for `config` with canonical HF names.

    HF-like init: weights/embeddings ~ N(0, std). Instead of HF's exact
    zeros/ones, biases ~ N(0, bias_noise), norm weights ~ 1 + N(0, norm_noise)
    and norm biases ~ N(0, norm_noise), so that tests exercise them."""
    g = torch.Generator().manual_seed(int(seed))
    sd: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for name, shape, kind in param_spec(config):
        r = torch.randn(shape, generator=g, dtype=torch.float32)
        if kind in ("embed", "weight"):
            t = r * std
        elif kind == "bias":
            t = r * bias_noise
        elif kind == "norm_w":
            t = 1.0 + norm_noise * r
        elif kind == "norm_b":
            t = norm_noise * r
        else:  # pragma: no cover
            raise AssertionError(kind)
        sd[name] = t.contiguous()
    if with_buffers:
        sd.update(buffer_spec(config))
    return sd


_GPT2_BUFFER = re.compile(r"^(transformer\.)?h\.\d+\.attn\.(bias|masked_bias)$")
_GPT2_TOP = re.compile(r"^(wte|wpe|ln_f|h\.\d+)\.")
_BERT_IGNORED = re.compile(r"^(bert\.pooler\.|cls\.seq_relationship\.|bert\.embeddings\.position_ids$)")
_LLAMA_IGNORED = re.compile(r"^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$")


def canonicalize_state_dict(config: Dict, state: Dict[str, torch.Tensor]) -> "OrderedDict[str, torch.Tensor]":
    """Map accepted name variants to canonical names, drop buffers, upcast to
    fp32, and check every expected tensor is present with the right shape."""
    mt = config["model_type"]
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for k, v in state.items():
        if mt == "gpt2":
            if _GPT2_BUFFER.match(k):
                continue
            if _GPT2_TOP.match(k):
                k = "transformer." + k
        elif mt == "bert":
            if k.startswith(("embeddings.", "encoder.", "pooler.")):
                k = "bert." + k
            kept = ((num_labels(config) and k.startswith("bert.pooler."))
                    or (next_sentence(config)
                        and k.startswith(("bert.pooler.", "cls.seq_relationship."))))
            if _BERT_IGNORED.match(k) and not kept:
                continue
            k = re.sub(r"\.LayerNorm\.gamma$", ".LayerNorm.weight", k)
            k = re.sub(r"\.LayerNorm\.beta$", ".LayerNorm.bias", k)
            if k == "cls.predictions.decoder.bias":
                # same Parameter as cls.predictions.bias in HF
                if "cls.predictions.bias" in state:
                    continue
                k = "cls.predictions.bias"
        elif mt == "llama":
            if _LLAMA_IGNORED.match(k):
                continue
        if k in out:
            raise ValueError(f"duplicate tensor after canonicalization: {k}")
        out[k] = v.float() if v.is_floating_point() else v
    expected = param_spec(config)
    known = {n for n, _, _ in expected}
    # Tied copies that HF tolerates (and ignores) when present in a checkpoint.
    optional = {"gpt2": {"lm_head.weight"}, "bert": {"cls.predictions.decoder.weight"},
                "llama": {"lm_head.weight"}}[mt]
    unexpected = [n for n in out if n not in known and n not in optional]
    if unexpected:
        raise KeyError(f"{mt}: unexpected tensors in checkpoint, e.g. {unexpected[:4]}")
    missing = [n for n, _, _ in expected if n not in out]
    if missing:
        raise KeyError(f"{mt}: checkpoint lacks {len(missing)} tensors, e.g. {missing[:4]}")
    for n, shape, _ in expected:
        if tuple(out[n].shape) != tuple(shape):
            raise ValueError(f"{n}: shape {tuple(out[n].shape)} != expected {tuple(shape)}")
    return out


# ----------------------------------------------------------------------------
# Shared pieces
# ----------------------------------------------------------------------------


def _positions(input_ids: torch.Tensor, position_ids: Optional[torch.Tensor]) -> torch.Tensor:
    b, s = input_ids.shape
    if position_ids is None:
        return torch.arange(s, dtype=torch.long).unsqueeze(0).expand(b, s)
    position_ids = torch.as_tensor(position_ids, dtype=torch.long)
    if position_ids.dim() == 1:
        position_ids = position_ids.unsqueeze(0)
    return position_ids.expand(b, s)


def _check_ids(input_ids: torch.Tensor, vocab: int) -> torch.Tensor:
    input_ids = torch.as_tensor(input_ids, dtype=torch.long)
    if input_ids.dim() != 2:
        raise ValueError(f"input_ids must be [B, S], got {tuple(input_ids.shape)}")
    if input_ids.numel() and (input_ids.min() < 0 or input_ids.max() >= vocab):
        raise ValueError(f"token id out of range [0, {vocab})")
    return input_ids


def _key_mask(attention_mask: Optional[torch.Tensor], b: int, s: int) -> Optional[torch.Tensor]:
    """[B, S] 0/1 padding mask -> bool [B, 1, 1, S] (True = may attend)."""
    if attention_mask is None:
        return None
    m = torch.as_tensor(attention_mask)
    if tuple(m.shape) != (b, s):
        raise ValueError(f"attention_mask must be [B, S] = {(b, s)}, got {tuple(m.shape)}")
    return (m != 0).view(b, 1, 1, s)


def _causal_allowed(s: int) -> torch.Tensor:
    """bool [1, 1, S, S], True where key index <= query index."""
    return torch.tril(torch.ones((s, s), dtype=torch.bool)).view(1, 1, s, s)


def _split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """[B, S, n*Dh] -> [B, n, S, Dh]."""
    b, s, _ = x.shape
    return x.view(b, s, n_heads, -1).transpose(1, 2)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    """[B, n, S, Dh] -> [B, S, n*Dh]."""
    b, n, s, dh = x.shape
    return x.transpose(1, 2).contiguous().view(b, s, n * dh)


# ----------------------------------------------------------------------------
# GPT-2
# ----------------------------------------------------------------------------


def _conv1d(x, w, b):
    """HF Conv1D: weight stored [in, out]; y = x @ W + b."""
    return torch.addmm(b, x.reshape(-1, x.shape[-1]), w).view(*x.shape[:-1], w.shape[-1])


def gpt2_forward(config, state, input_ids, attention_mask=None, token_type_ids=None,
                 position_ids=None, return_hidden=False):
    """GPT2LMHeadModel: pre-LN decoder, gelu_new MLP, causal attention,
    logits = ln_f(h) @ wte^T (tied). `attention_mask` (optional, [B, S] 0/1)
    additionally masks keys; outputs at masked query positions are
    meaningless. token_type_ids are not supported (GPT-2 would add wte[tt])."""
    if token_type_ids is not None:
        raise NotImplementedError("token_type_ids for GPT-2 are not supported")
    sd = canonicalize_state_dict(config, state)
    d, nh, _, nl = _gpt2_dims(config)
    eps = float(config.get("layer_norm_epsilon", 1e-5))
    act = _act(config.get("activation_function", "gelu_new"))
    ids = _check_ids(input_ids, config["vocab_size"])
    b, s = ids.shape
    pos = _positions(ids, position_ids)
    if pos.numel() and int(pos.max()) >= config["n_positions"]:
        raise ValueError(f"position {int(pos.max())} >= n_positions {config['n_positions']}")
    P = "transformer."
    x = F.embedding(ids, sd[P + "wte.weight"]) + F.embedding(pos, sd[P + "wpe.weight"])

    allowed = _causal_allowed(s)
    km = _key_mask(attention_mask, b, s)
    if km is not None:
        allowed = allowed & km
    neg = torch.finfo(torch.float32).min
    dh = d // nh
    for i in range(nl):
        h = f"{P}h.{i}."
        a = F.layer_norm(x, (d,), sd[h + "ln_1.weight"], sd[h + "ln_1.bias"], eps)
        qkv = _conv1d(a, sd[h + "attn.c_attn.weight"], sd[h + "attn.c_attn.bias"])
        q, k, v = qkv.split(d, dim=2)
        q, k, v = _split_heads(q, nh), _split_heads(k, nh), _split_heads(v, nh)
        w = torch.matmul(q, k.transpose(-1, -2))
        if config.get("scale_attn_weights", True):
            w = w / math.sqrt(dh)
        if config.get("scale_attn_by_inverse_layer_idx", False):
            w = w / float(i + 1)
        w = w.masked_fill(~allowed, neg)
        p = torch.softmax(w, dim=-1)
        o = _merge_heads(torch.matmul(p, v))
        x = x + _conv1d(o, sd[h + "attn.c_proj.weight"], sd[h + "attn.c_proj.bias"])
        m = F.layer_norm(x, (d,), sd[h + "ln_2.weight"], sd[h + "ln_2.bias"], eps)
        m = act(_conv1d(m, sd[h + "mlp.c_fc.weight"], sd[h + "mlp.c_fc.bias"]))
        x = x + _conv1d(m, sd[h + "mlp.c_proj.weight"], sd[h + "mlp.c_proj.bias"])
    x = F.layer_norm(x, (d,), sd[P + "ln_f.weight"], sd[P + "ln_f.bias"], eps)
    if return_hidden:
        return x
    if num_labels(config):
        # GPT2ForSequenceClassification: logits at every position; HF pools
        # each sequence's last non-padding one.
        head = sd["score.weight"]
    elif config.get("tie_word_embeddings", True):
        head = sd[P + "wte.weight"]
    else:
        head = sd["lm_head.weight"]
    return torch.matmul(x, head.t())


# ----------------------------------------------------------------------------
# BERT
# ----------------------------------------------------------------------------


def bert_encoder(config, state, input_ids, attention_mask=None, token_type_ids=None, position_ids=None):
    """BertModel last hidden state [B, S, H] (post-LN encoder, exact GELU,
    bidirectional attention; masked keys get + finfo(fp32).min as in HF)."""
    return _bert_encoder(config, canonicalize_state_dict(config, state), input_ids,
                         attention_mask, token_type_ids, position_ids)


def _bert_encoder(config, sd, input_ids, attention_mask, token_type_ids, position_ids):
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise NotImplementedError("only position_embedding_type 'absolute' is supported")
    hd, nh = config["hidden_size"], config["num_attention_heads"]
    eps = float(config.get("layer_norm_eps", 1e-12))
    act = _act(config.get("hidden_act", "gelu"))
    ids = _check_ids(input_ids, config["vocab_size"])
    b, s = ids.shape
    pos = _positions(ids, position_ids)
    if pos.numel() and int(pos.max()) >= config["max_position_embeddings"]:
        raise ValueError(f"position {int(pos.max())} >= max_position_embeddings")
    tt = torch.zeros_like(ids) if token_type_ids is None else torch.as_tensor(token_type_ids, dtype=torch.long).expand(b, s)
    E = "bert.embeddings."
    x = (F.embedding(ids, sd[E + "word_embeddings.weight"])
         + F.embedding(tt, sd[E + "token_type_embeddings.weight"])
         + F.embedding(pos, sd[E + "position_embeddings.weight"]))
    x = F.layer_norm(x, (hd,), sd[E + "LayerNorm.weight"], sd[E + "LayerNorm.bias"], eps)

    mask = torch.ones((b, s)) if attention_mask is None else torch.as_tensor(attention_mask).float()
    if tuple(mask.shape) != (b, s):
        raise ValueError(f"attention_mask must be [B, S] = {(b, s)}")
    ext = (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float32).min  # [B,1,1,S]
    dh = hd // nh
    for i in range(config["num_hidden_layers"]):
        L = f"bert.encoder.layer.{i}."
        q = _split_heads(F.linear(x, sd[L + "attention.self.query.weight"], sd[L + "attention.self.query.bias"]), nh)
        k = _split_heads(F.linear(x, sd[L + "attention.self.key.weight"], sd[L + "attention.self.key.bias"]), nh)
        v = _split_heads(F.linear(x, sd[L + "attention.self.value.weight"], sd[L + "attention.self.value.bias"]), nh)
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(dh) + ext
        ctx = _merge_heads(torch.matmul(torch.softmax(w, dim=-1), v))
        a = F.linear(ctx, sd[L + "attention.output.dense.weight"], sd[L + "attention.output.dense.bias"])
        x = F.layer_norm(a + x, (hd,), sd[L + "attention.output.LayerNorm.weight"],
                         sd[L + "attention.output.LayerNorm.bias"], eps)
        m = act(F.linear(x, sd[L + "intermediate.dense.weight"], sd[L + "intermediate.dense.bias"]))
        m = F.linear(m, sd[L + "output.dense.weight"], sd[L + "output.dense.bias"])
        x = F.layer_norm(m + x, (hd,), sd[L + "output.LayerNorm.weight"], sd[L + "output.LayerNorm.bias"], eps)
    return x


def bert_forward(config, state, input_ids, attention_mask=None, token_type_ids=None,
                 position_ids=None, return_hidden=False):
    """BertForMaskedLM logits [B, S, V] (or the encoder output with
    return_hidden=True)."""
    sd = canonicalize_state_dict(config, state)
    x = _bert_encoder(config, sd, input_ids, attention_mask, token_type_ids, position_ids)
    if return_hidden:
        return x
    if num_labels(config):
        # BertForSequenceClassification pools position 0 ([CLS]); the pooler
        # and classifier run at every position here, as llm-opt's import
        # does, and position 0 holds HF's logits.
        pooled = torch.tanh(F.linear(x, sd["bert.pooler.dense.weight"],
                                     sd["bert.pooler.dense.bias"]))
        return F.linear(pooled, sd["classifier.weight"], sd["classifier.bias"])
    return _bert_mlm_head(config, sd, x)


def _bert_mlm_head(config, sd, x):
    hd = config["hidden_size"]
    eps = float(config.get("layer_norm_eps", 1e-12))
    act = _act(config.get("hidden_act", "gelu"))
    T = "cls.predictions.transform."
    t = act(F.linear(x, sd[T + "dense.weight"], sd[T + "dense.bias"]))
    t = F.layer_norm(t, (hd,), sd[T + "LayerNorm.weight"], sd[T + "LayerNorm.bias"], eps)
    if config.get("tie_word_embeddings", True):
        dec = sd["bert.embeddings.word_embeddings.weight"]
    else:
        dec = sd["cls.predictions.decoder.weight"]
    return F.linear(t, dec, sd["cls.predictions.bias"])


def bert_pretraining_forward(config, state, input_ids, attention_mask=None,
                             token_type_ids=None, position_ids=None):
    """BertForPreTraining: (MLM logits [B, S, V], next-sentence logits
    [B, 2] from the pooled [CLS]; class 0: B follows A)."""
    sd = canonicalize_state_dict(config, state)
    x = _bert_encoder(config, sd, input_ids, attention_mask, token_type_ids, position_ids)
    logits = _bert_mlm_head(config, sd, x)
    pooled = torch.tanh(F.linear(x[:, 0], sd["bert.pooler.dense.weight"],
                                 sd["bert.pooler.dense.bias"]))
    return logits, F.linear(pooled, sd["cls.seq_relationship.weight"],
                            sd["cls.seq_relationship.bias"])


# ----------------------------------------------------------------------------
# LLaMA
# ----------------------------------------------------------------------------


def rms_norm(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    """LlamaRMSNorm: w * (x * rsqrt(mean(x^2) + eps)), statistics in fp32."""
    dt = x.dtype
    xf = x.float()
    var = xf.pow(2).mean(-1, keepdim=True)
    return w * (xf * torch.rsqrt(var + eps)).to(dt)


def rope_inv_freq(config: Dict) -> torch.Tensor:
    """inv_freq[j] = 1 / theta^(2j / Dh), j = 0..Dh/2-1 (HF default rope)."""
    rs = config.get("rope_scaling")
    if rs:
        kind = rs.get("rope_type", rs.get("type"))
        if kind != "default":
            raise NotImplementedError(f"rope_scaling {rs!r} is not supported")
    dh = _llama_head_dim(config)
    base = float(config.get("rope_theta", 10000.0))
    return 1.0 / (base ** (torch.arange(0, dh, 2, dtype=torch.int64).float() / dh))


def rope_cos_sin(config: Dict, pos: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """cos, sin of shape [B, S, Dh]: angles = pos * inv_freq, duplicated
    across the two halves (cat(freqs, freqs)), as LlamaRotaryEmbedding."""
    freqs = pos.float()[..., None] * rope_inv_freq(config)[None, None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: [B, n, S, Dh]; cos/sin: [B, S, Dh]."""
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    return x * cos + rotate_half(x) * sin


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """[B, nKV, S, Dh] -> [B, nKV*n_rep, S, Dh]; query head h uses KV head h // n_rep."""
    if n_rep == 1:
        return x
    b, n, s, dh = x.shape
    return x[:, :, None, :, :].expand(b, n, n_rep, s, dh).reshape(b, n * n_rep, s, dh)


def llama_forward(config, state, input_ids, attention_mask=None, token_type_ids=None,
                  position_ids=None, return_hidden=False):
    """LlamaForCausalLM logits [B, S, V]: RMSNorm pre-norm, RoPE (rotate_half),
    GQA, SwiGLU MLP, causal attention. `attention_mask` (optional, [B, S]
    0/1) additionally masks keys; outputs at masked query positions are
    meaningless. position_ids default to 0..S-1."""
    if token_type_ids is not None:
        raise NotImplementedError("LLaMA has no token_type_ids")
    sd = canonicalize_state_dict(config, state)
    hd, nh, nkv = config["hidden_size"], config["num_attention_heads"], _llama_kv_heads(config)
    dh = _llama_head_dim(config)
    if nh % nkv:
        raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")
    eps = float(config.get("rms_norm_eps", 1e-6))
    act = _act(config.get("hidden_act", "silu"))
    ids = _check_ids(input_ids, config["vocab_size"])
    b, s = ids.shape
    pos = _positions(ids, position_ids)
    cos, sin = rope_cos_sin(config, pos)
    allowed = _causal_allowed(s)
    km = _key_mask(attention_mask, b, s)
    if km is not None:
        allowed = allowed & km
    neg = torch.finfo(torch.float32).min
    scaling = dh ** -0.5

    def lin(x, name):
        return F.linear(x, sd[name + ".weight"], sd.get(name + ".bias"))

    x = F.embedding(ids, sd["model.embed_tokens.weight"])
    for i in range(config["num_hidden_layers"]):
        L = f"model.layers.{i}."
        a = rms_norm(x, sd[L + "input_layernorm.weight"], eps)
        q = _split_heads(lin(a, L + "self_attn.q_proj"), nh)
        k = _split_heads(lin(a, L + "self_attn.k_proj"), nkv)
        v = _split_heads(lin(a, L + "self_attn.v_proj"), nkv)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        k, v = repeat_kv(k, nh // nkv), repeat_kv(v, nh // nkv)
        w = torch.matmul(q, k.transpose(-1, -2)) * scaling
        w = w.masked_fill(~allowed, neg)
        p = torch.softmax(w, dim=-1, dtype=torch.float32)
        o = _merge_heads(torch.matmul(p, v))
        x = x + lin(o, L + "self_attn.o_proj")
        m = rms_norm(x, sd[L + "post_attention_layernorm.weight"], eps)
        m = lin(act(lin(m, L + "mlp.gate_proj")) * lin(m, L + "mlp.up_proj"), L + "mlp.down_proj")
        x = x + m
    x = rms_norm(x, sd["model.norm.weight"], eps)
    if return_hidden:
        return x
    if num_labels(config):
        head = sd["score.weight"]
    elif config.get("tie_word_embeddings", False):
        head = sd["model.embed_tokens.weight"]
    else:
        head = sd["lm_head.weight"]
    return torch.matmul(x, head.t())


# ----------------------------------------------------------------------------
# Dispatch and loading
# ----------------------------------------------------------------------------

_FORWARD = {"gpt2": gpt2_forward, "bert": bert_forward, "llama": llama_forward}


@torch.no_grad()
def forward(config, state, input_ids, attention_mask=None, token_type_ids=None,
            position_ids=None, return_hidden=False) -> torch.Tensor:
    mt = config.get("model_type")
    if mt not in _FORWARD:
        raise ValueError(f"unsupported model_type {mt!r}; expected one of {FAMILIES}")
    return _FORWARD[mt](config, state, input_ids, attention_mask=attention_mask,
                        token_type_ids=token_type_ids, position_ids=position_ids,
                        return_hidden=return_hidden)


def load_model_dir(path: str):
    """(config dict, raw state dict) from an HF-style folder."""
    with open(os.path.join(path, "config.json"), "r", encoding="utf-8") as f:
        config = json.load(f)
    return config, load_checkpoint_dir(path)
