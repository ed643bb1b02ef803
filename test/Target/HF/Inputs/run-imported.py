#!/usr/bin/python3
"""Evaluate the module llm-translate --import-hf prints, with PyTorch, and
compare its logits with the reference model (utils/llm_ref) on the same
folder.

    run-imported.py MODEL.mlir DIR --tokens 1,2,3[;4,5,6]
        [--attention-mask 1,1,0[;...]] [--token-type-ids 0,0,1[;...]]
        [--atol 1e-4]

This checks what the importer emits (which ops, wired how, with which
attributes), independently of the importer: the ops are evaluated from their
documented semantics (docs/Dialects/LLMOps.md), not from the importer's code,
and the expected logits come from the reference implementation. It reads
only the pretty-printed forms the importer produces and fails loudly on
anything else. Prints "max abs diff X" and exits non-zero above --atol.
"""

import argparse
import math
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "..", "utils"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from llm_ref import models  # noqa: E402


def parse_matrix(text):
    return torch.tensor([[int(x) for x in row.split(",")] for row in text.split(";")], dtype=torch.long)


def split_top(text, sep=","):
    """Split on `sep` outside brackets."""
    parts, depth, cur = [], 0, ""
    for c in text:
        if c in "([{<":
            depth += 1
        elif c in ")]}>":
            depth -= 1
        if c == sep and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += c
    if cur.strip():
        parts.append(cur.strip())
    return parts


def attrs_of(text):
    m = re.search(r"\{([^{}]*)\}\s*:", text)
    out = {}
    if not m:
        return out
    for item in split_top(m.group(1)):
        if "=" in item:
            k, v = item.split("=", 1)
            out[k.strip()] = v.strip().split(" : ")[0]
        else:
            out[item.strip()] = True
    return out


def gelu(x, tanh):
    if tanh:
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    return x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


def linear(x, w, b, in_out):
    y = x @ (w if in_out else w.t())
    return y + b if b is not None else y


def attention(q, k, v, nh, nkv, causal, mask, scale):
    b, s, _ = q.shape
    kvlen = k.shape[1]
    dh = q.shape[-1] // nh
    dv = v.shape[-1] // nkv
    qh = q.view(b, s, nh, dh).transpose(1, 2)
    kh = k.view(b, kvlen, nkv, dh).transpose(1, 2)
    vh = v.view(b, kvlen, nkv, dv).transpose(1, 2)
    rep = nh // nkv
    kh = kh.repeat_interleave(rep, dim=1)
    vh = vh.repeat_interleave(rep, dim=1)
    w = (qh @ kh.transpose(-1, -2)) * (scale if scale is not None else 1.0 / math.sqrt(dh))
    if mask is not None:
        if mask.dtype == torch.bool:
            w = w.masked_fill(~mask, float("-inf"))
        else:
            w = w + mask
    if causal:
        allowed = torch.ones(s, kvlen, dtype=torch.bool).tril(kvlen - s)
        w = w.masked_fill(~allowed, float("-inf"))
    p = torch.softmax(w, dim=-1)
    return (p @ vh).transpose(1, 2).reshape(b, s, nh * dv)


def rope(x, head_dim, theta):
    b, s, f = x.shape
    h = x.view(b, s, f // head_dim, head_dim)
    half = head_dim // 2
    j = torch.arange(half, dtype=torch.float64)
    freq = theta ** (-2.0 * j / head_dim)
    ang = torch.arange(s, dtype=torch.float64)[:, None] * freq[None, :]
    cos, sin = ang.cos().float()[None, :, None, :], ang.sin().float()[None, :, None, :]
    x1, x2 = h[..., :half], h[..., half:]
    out = torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)
    return out.reshape(b, s, f)


def evaluate(text, state, inputs):
    sig = re.search(r"func\.func @forward\((.*?)\)\s*->", text, re.S).group(1)
    env = {}
    act = iter(inputs)
    for arg in split_top(sig):
        name = arg.split(":")[0].strip()
        m = re.search(r'llm\.param = "([^"]*)"', arg)
        env[name] = state[m.group(1)] if m else next(act)
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if "func.func @forward" in line)
    result = None
    for raw in lines[start + 1:]:
        line = raw.strip()
        if not line or line == "}":
            continue
        if line.startswith("return"):
            result = env[line.split()[1]]
            break
        lhs, rhs = [p.strip() for p in line.split(" = ", 1)]
        op = rhs.split()[0]
        ops = re.findall(r"%[A-Za-z0-9_]+", rhs.split(" : ")[0])
        A = attrs_of(rhs)

        def v(i):
            return env[ops[i]]

        def after(word):
            m = re.search(r"\b" + word + r" (%[A-Za-z0-9_]+)", rhs)
            return env[m.group(1)] if m else None

        if op == "arith.constant":
            val = rhs.split()[1]
            env[lhs] = float(val) if ("." in val or "E" in val) else int(val)
        elif op == "tensor.dim":
            env[lhs] = v(0).shape[int(env[ops[1]])]
        elif op == "llm.embedding":
            env[lhs] = F.embedding(v(1), v(0))
        elif op == "llm.positional_encoding":
            assert " learned " in rhs and "positions" not in rhs, line
            x = v(0)
            env[lhs] = x + after("table")[: x.shape[-2]]
        elif op == "llm.layer_norm":
            eps = float(A.get("epsilon", 1e-5))
            x = v(0)
            env[lhs] = F.layer_norm(x, (x.shape[-1],), after("weight"), after("bias"), eps)
        elif op == "llm.rms_norm":
            eps = float(A.get("epsilon", 1e-6))
            x = v(0)
            env[lhs] = x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * after("weight")
        elif op == "llm.linear":
            env[lhs] = linear(v(0), v(1), after("bias"), "layout in_out" in rhs)
        elif op == "tensor.extract_slice":
            m = re.search(r"\[0, 0, (\d+)\] \[[^\]]*, (\d+)\] \[1, 1, 1\]", rhs)
            o, n = int(m.group(1)), int(m.group(2))
            env[lhs] = v(0)[..., o:o + n]
        elif op == "llm.attention":
            nh = int(A["num_heads"])
            nkv = int(A.get("num_kv_heads", nh))
            scale = float(A["scale"]) if "scale" in A else None
            env[lhs] = attention(v(0), v(1), v(2), nh, nkv, "causal" in A, after("mask"), scale)
        elif op in ("arith.addf", "arith.subf", "arith.mulf", "arith.maximumf"):
            fn = {"arith.addf": torch.add, "arith.subf": torch.sub, "arith.mulf": torch.mul,
                  "arith.maximumf": torch.maximum}[op]
            env[lhs] = fn(v(0), v(1))
        elif op == "arith.sitofp" or op == "arith.extf":
            env[lhs] = v(0).float()
        elif op == "tensor.splat":
            dims = re.search(r": tensor<([^>]*)>", rhs).group(1).split("x")[:-1]
            dynamic = iter(env[o] for o in ops[1:])
            sizes = [next(dynamic) if d == "?" else int(d) for d in dims]
            # The printed f32 constant is rounded back to f32 (FLT_MAX prints
            # as a decimal slightly above it).
            value = torch.tensor(float(v(0)), dtype=torch.float64).float()
            env[lhs] = value.expand(sizes).clone()
        elif op == "tensor.expand_shape":
            x = v(0)
            assert "[[0, 1, 2], [3]]" in rhs, line
            env[lhs] = x.view(x.shape[0], 1, 1, x.shape[1])
        elif op == "llm.ffn":
            kind = rhs.split()[1]
            x = v(0)
            in_out = "layout in_out" in rhs
            up = linear(x, after("up"), re.search(r"up %\w+ bias", rhs) and after(r"up %\w+ bias"), in_out)
            if kind in ("swiglu", "geglu"):
                gb = re.search(r"gate %\w+ bias", rhs) and after(r"gate %\w+ bias")
                g = linear(x, after("gate"), gb, in_out)
                g = F.silu(g) if kind == "swiglu" else gelu(g, False)
                hmid = g * up
            else:
                hmid = {"gelu": lambda t: gelu(t, False), "gelu_tanh": lambda t: gelu(t, True),
                        "relu": F.relu, "silu": F.silu}[kind](up)
            db = re.search(r"down %\w+ bias", rhs) and after(r"down %\w+ bias")
            env[lhs] = linear(hmid, after("down"), db, in_out)
        elif op == "llm.gelu":
            env[lhs] = gelu(v(0), "approximate tanh" in rhs)
        elif op == "llm.rope":
            assert "interleaved" not in A and "rotary_dim" not in A, line
            env[lhs] = rope(v(0), int(A["head_dim"]), float(A.get("theta", 10000.0)))
        else:
            raise SystemExit(f"unsupported line: {line}")
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mlir")
    ap.add_argument("dir")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--attention-mask")
    ap.add_argument("--token-type-ids")
    ap.add_argument("--atol", type=float, default=1e-4)
    args = ap.parse_args()

    torch.manual_seed(0)
    config, raw = models.load_model_dir(args.dir)
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in raw.items()}
    ids = parse_matrix(args.tokens)
    mask = parse_matrix(args.attention_mask) if args.attention_mask else None
    tt = parse_matrix(args.token_type_ids) if args.token_type_ids else None
    with open(args.mlir, encoding="utf-8") as f:
        text = f.read()
    inputs = [ids]
    if config["model_type"] == "bert":
        # Arguments without llm.param take these in order; a model without
        # token types takes only the first two.
        inputs.append(mask if mask is not None else torch.ones_like(ids))
        inputs.append(tt if tt is not None else torch.zeros_like(ids))
    with torch.no_grad():
        got = evaluate(text, state, inputs)
        want = models.forward(config, raw, ids, attention_mask=mask, token_type_ids=tt)
    if got.shape != want.shape:
        raise SystemExit(f"shape {tuple(got.shape)} != reference {tuple(want.shape)}")
    diff = (got - want).abs().max().item()
    print(f"max abs diff {diff:.3g}")
    sys.exit(0 if diff <= args.atol else 1)


if __name__ == "__main__":
    main()
