"""Every llm op, compiled by llm-compile and run, against PyTorch.

Usage: op_numerics.py LLM_COMPILE WORK_DIR [FILTER...] [-- LLM_COMPILE_ARGS...]

Each case writes a one-op MLIR function, compiles it to an artifact, calls it
through the ABI with random inputs and compares with a PyTorch reference
computed in float64. The error measure is max |got - want| / max(1, max
|want|) and must stay <= 1e-4 (fp32). Shapes include odd sizes that divide no
vector width or tile, dynamic batch/sequence dims, and batch > 1. Arguments
after `--` go to every llm-compile (the fusion on/off matrix).
"""

import itertools
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llm_artifact  # noqa: E402

TOLERANCE = 1e-4
ARGS, COMPILE_ARGS = sys.argv[1:], []
if "--" in ARGS:
    ARGS, COMPILE_ARGS = ARGS[:ARGS.index("--")], ARGS[ARGS.index("--") + 1:]
LLM_COMPILE, WORK = ARGS[0], ARGS[1]
# Op families whose name contains one of the filters (all without any).
FILTERS = ARGS[2:]
rng = np.random.RandomState(0)


def ttype(shape, dtype="f32"):
    dims = "x".join("?" if d is None else str(d) for d in shape)
    return "tensor<%s%s%s>" % (dims, "x" if shape else "", dtype)


def rand(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def t64(a):
    return torch.tensor(np.asarray(a), dtype=torch.float64)


CASES = []


def case(name):
    def register(fn):
        CASES.append((name, fn))
        return fn
    return register


def run_case(name, arg_types, result_type, op_text, inputs, want):
    """Compiles `op_text` (using %a0.. for the arguments, producing %r) and
    compares its output on `inputs` with `want`. With a list of result types,
    `%r` names the op's results (`%r:N`) and `want` lists each result."""
    args = ", ".join("%%a%d: %s" % (i, t) for i, t in enumerate(arg_types))
    if isinstance(result_type, list):
        results = ", ".join("%%r#%d" % i for i in range(len(result_type)))
        types = ", ".join(result_type)
        signature = "(%s)" % types
    else:
        results, types, signature = "%r", result_type, result_type
    mlir = ("func.func @forward(%s) -> %s {\n  %s\n  return %s : %s\n}\n"
            % (args, signature, op_text, results, types))
    folder = os.path.join(WORK, name)
    art = llm_artifact.compile_mlir(LLM_COMPILE, mlir, folder, COMPILE_ARGS)
    got = art.call("forward", *inputs)
    if not isinstance(result_type, list):
        return llm_artifact.max_scaled_error(got, np.asarray(want))
    return max(llm_artifact.max_scaled_error(g, np.asarray(w))
               for g, w in zip(got, want))


@case("linear")
def _():
    results = []
    for (shape, dyn, n, bias, layout) in [
            ((2, 7, 13), (None, None, 13), 11, True, "out_in"),
            ((5, 33), (None, 33), 17, False, "out_in"),
            ((3, 1, 64), (3, None, 64), 48, True, "in_out"),
            ((1, 9, 31), (1, 9, 31), 1, False, "in_out")]:
        k = shape[-1]
        x = rand(*shape)
        w = rand(n, k) if layout == "out_in" else rand(k, n)
        b = rand(n)
        wt = t64(w) if layout == "out_in" else t64(w).T
        want = F.linear(t64(x), wt, t64(b) if bias else None).numpy()
        types = [ttype(dyn), ttype(w.shape)] + ([ttype((n,))] if bias else [])
        out = ttype(dyn[:-1] + (n,))
        text = "%%r = llm.linear %%a0, %%a1%s%s : (%s) -> %s" % (
            " bias %a2" if bias else "",
            " layout in_out" if layout == "in_out" else "",
            ", ".join(types), out)
        inputs = [x, w] + ([b] if bias else [])
        results.append(run_case("linear_%d" % len(results), types, out, text,
                                inputs, want))
    return results


@case("norms")
def _():
    results = []
    # 2 x 19 rows: llm-fuse-norm's tiles of 8 rows, the last one partial.
    for shape, eps in [((2, 5, 48), 1e-5), ((3, 67), 1e-6), ((1, 1, 7), 1e-12),
                       ((2, 19, 40), 1e-5)]:
        d = shape[-1]
        x = rand(*shape) * 3 + 1
        g, b = rand(d), rand(d)
        dyn = (None,) * (len(shape) - 1) + (d,)
        for affine in ["none", "weight", "both"]:
            types = [ttype(dyn)]
            text = "%r = llm.layer_norm %a0"
            inputs = [x]
            if affine != "none":
                text += " weight %a1"
                types.append(ttype((d,)))
                inputs.append(g)
            if affine == "both":
                text += " bias %a2"
                types.append(ttype((d,)))
                inputs.append(b)
            text += " {epsilon = %.17e : f64} : (%s) -> %s" % (
                eps, ", ".join(types), ttype(dyn))
            want = F.layer_norm(t64(x), (d,), t64(g) if affine != "none" else None,
                                t64(b) if affine == "both" else None, eps).numpy()
            results.append(run_case("ln_%d" % len(results), types, ttype(dyn),
                                    text, inputs, want))
        # RMSNorm as LLaMA: x * rsqrt(mean(x^2) + eps) * w
        xt = t64(x)
        want = (xt * torch.rsqrt(xt.pow(2).mean(-1, keepdim=True) + eps) * t64(g)).numpy()
        types = [ttype(dyn), ttype((d,))]
        text = "%%r = llm.rms_norm %%a0 weight %%a1 {epsilon = %.17e : f64} : (%s) -> %s" % (
            eps, ", ".join(types), ttype(dyn))
        results.append(run_case("rms_%d" % len(results), types, ttype(dyn), text,
                                [x, g], want))
    return results


@case("activations")
def _():
    results = []
    x = rand(3, 37) * 3
    for approx, torch_approx in [("", "none"), (" approximate tanh", "tanh")]:
        want = F.gelu(t64(x), approximate=torch_approx).numpy()
        text = "%%r = llm.gelu %%a0%s : tensor<?x37xf32>" % approx
        results.append(run_case("gelu_%s" % torch_approx, ["tensor<?x37xf32>"],
                                "tensor<?x37xf32>", text, [x], want))
    y = rand(4, 5, 19) * 4
    for axis in [0, 1, -1]:
        want = torch.softmax(t64(y), dim=axis).numpy()
        text = "%%r = llm.softmax %%a0 {axis = %d : i64} : tensor<4x?x19xf32>" % axis
        results.append(run_case("softmax_%d" % len(results), ["tensor<4x?x19xf32>"],
                                "tensor<4x?x19xf32>", text, [y], want))
    return results


@case("embedding_positions")
def _():
    results = []
    table = rand(50, 12)
    ids = rng.randint(0, 50, size=(3, 7)).astype(np.int64)
    want = table[ids]
    text = ("%r = llm.embedding %a0[%a1] : (tensor<50x12xf32>, tensor<?x?xi64>)"
            " -> tensor<?x?x12xf32>")
    results.append(run_case("embedding", ["tensor<50x12xf32>", "tensor<?x?xi64>"],
                            "tensor<?x?x12xf32>", text, [table, ids], want))
    x = rand(2, 7, 12)
    wpe = rand(16, 12)
    want = x + wpe[np.arange(7)][None]
    text = ("%r = llm.positional_encoding learned %a0 table %a1 : "
            "(tensor<?x?x12xf32>, tensor<16x12xf32>) -> tensor<?x?x12xf32>")
    results.append(run_case("pe_learned", ["tensor<?x?x12xf32>", "tensor<16x12xf32>"],
                            "tensor<?x?x12xf32>", text, [x, wpe], want))
    pos = (np.arange(7)[None] + np.array([[3], [5]])).astype(np.int64)
    want = x + wpe[pos]
    text = ("%r = llm.positional_encoding learned %a0 table %a1 positions %a2 : "
            "(tensor<?x?x12xf32>, tensor<16x12xf32>, tensor<?x?xi64>) -> tensor<?x?x12xf32>")
    results.append(run_case("pe_learned_pos", ["tensor<?x?x12xf32>", "tensor<16x12xf32>",
                                               "tensor<?x?xi64>"],
                            "tensor<?x?x12xf32>", text, [x, wpe, pos], want))
    # Sinusoidal, as in "Attention is all you need".
    p = np.arange(7)[:, None].astype(np.float64)
    i = np.arange(0, 12, 2).astype(np.float64)
    angle = p / np.power(10000.0, i / 12)
    pe = np.zeros((7, 12))
    pe[:, 0::2], pe[:, 1::2] = np.sin(angle), np.cos(angle)
    want = x + pe[None]
    text = ("%r = llm.positional_encoding sinusoidal %a0 : "
            "(tensor<?x?x12xf32>) -> tensor<?x?x12xf32>")
    results.append(run_case("pe_sin", ["tensor<?x?x12xf32>"], "tensor<?x?x12xf32>",
                            text, [x], want))
    return results


def rope_reference(x, head_dim, rotary, theta, interleaved, positions):
    b, s, f = x.shape
    heads = f // head_dim
    xh = t64(x).reshape(b, s, heads, head_dim)
    inv = 1.0 / (theta ** (torch.arange(0, rotary, 2, dtype=torch.float64) / rotary))
    ang = t64(positions)[..., None] * inv  # [b or 1, s, rotary/2]
    cos, sin = torch.cos(ang)[:, :, None], torch.sin(ang)[:, :, None]
    rot, rest = xh[..., :rotary], xh[..., rotary:]
    if interleaved:
        x1, x2 = rot[..., 0::2], rot[..., 1::2]
        out = torch.stack([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1).flatten(-2)
    else:
        half = rotary // 2
        x1, x2 = rot[..., :half], rot[..., half:]
        out = torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)
    return torch.cat([out, rest], -1).reshape(b, s, f).numpy()


@case("rope")
def _():
    results = []
    x = rand(2, 9, 48)
    for head_dim, rotary, theta, inter in [(16, 16, 10000.0, False), (16, 16, 500000.0, True),
                                           (24, 8, 10000.0, False), (12, 12, 10.0, True)]:
        attrs = "head_dim = %d : i64, theta = %.17e : f64" % (head_dim, theta)
        if rotary != head_dim:
            attrs += ", rotary_dim = %d : i64" % rotary
        if inter:
            attrs += ", interleaved"
        positions = np.arange(9)[None].astype(np.float64)
        want = rope_reference(x, head_dim, rotary, theta, inter, positions)
        text = "%%r = llm.rope %%a0 {%s} : (tensor<?x?x48xf32>) -> tensor<?x?x48xf32>" % attrs
        results.append(run_case("rope_%d" % len(results), ["tensor<?x?x48xf32>"],
                                "tensor<?x?x48xf32>", text, [x], want))
    pos = (np.arange(9)[None] + np.array([[100], [7]])).astype(np.int64)
    want = rope_reference(x, 16, 16, 10000.0, False, pos)
    text = ("%r = llm.rope %a0 positions %a1 {head_dim = 16 : i64} : "
            "(tensor<?x?x48xf32>, tensor<?x?xi64>) -> tensor<?x?x48xf32>")
    results.append(run_case("rope_pos", ["tensor<?x?x48xf32>", "tensor<?x?xi64>"],
                            "tensor<?x?x48xf32>", text, [x, pos], want))
    return results


def attention_reference(q, k, v, heads, kv_heads, causal, mask, scale):
    b, sq, _ = q.shape
    skv = k.shape[1]
    dh = q.shape[2] // heads
    dv = v.shape[2] // kv_heads
    qh = t64(q).reshape(b, sq, heads, dh).transpose(1, 2)
    kh = t64(k).reshape(b, skv, kv_heads, dh).transpose(1, 2)
    vh = t64(v).reshape(b, skv, kv_heads, dv).transpose(1, 2)
    group = heads // kv_heads
    kh = kh.repeat_interleave(group, dim=1)
    vh = vh.repeat_interleave(group, dim=1)
    s = qh @ kh.transpose(-1, -2) * scale
    if mask is not None:
        if mask.dtype == np.bool_:
            s = s.masked_fill(~torch.tensor(mask), float("-inf"))
        else:
            s = s + t64(mask)
    if causal:
        i = torch.arange(sq)[:, None] + (skv - sq)
        j = torch.arange(skv)[None]
        s = s.masked_fill(j > i, float("-inf"))
    p = torch.softmax(s, -1)
    return (p @ vh).transpose(1, 2).reshape(b, sq, heads * dv).numpy()


@case("attention")
def _():
    results = []
    configs = [
        # b, sq, skv, heads, kv_heads, dh, dv, causal, mask, scale
        (1, 7, 7, 4, 4, 16, 16, True, None, None),
        (2, 5, 5, 8, 2, 8, 8, True, None, None),        # GQA
        (2, 13, 13, 6, 1, 12, 12, True, None, 0.3),     # MQA, explicit scale
        (3, 4, 9, 4, 2, 8, 8, True, None, None),        # continued sequence
        (2, 6, 6, 4, 4, 8, 8, False, "pad", None),      # BERT padding mask
        (2, 6, 6, 4, 2, 8, 4, False, "bool", None),     # bool mask, dv != dh
        (1, 1, 1, 2, 2, 8, 8, True, None, None),        # one token
        # Several query and key tiles (64 each when fused), the last ones
        # overlapping the one before.
        (2, 150, 150, 4, 2, 16, 16, True, None, None),
        (1, 70, 200, 2, 2, 8, 8, True, None, None),     # continued sequence
        (2, 130, 130, 2, 1, 8, 4, False, "pad", None),  # padding past 64
        (1, 100, 100, 2, 2, 8, 8, False, "bool", None),
    ]
    for (b, sq, skv, h, kvh, dh, dv, causal, mask_kind, scale) in configs:
        q, k, v = rand(b, sq, h * dh), rand(b, skv, kvh * dh), rand(b, skv, kvh * dv)
        mask = None
        types = ["tensor<?x?x%dxf32>" % (h * dh), "tensor<?x?x%dxf32>" % (kvh * dh),
                 "tensor<?x?x%dxf32>" % (kvh * dv)]
        inputs = [q, k, v]
        text = "%r = llm.attention %a0, %a1, %a2"
        if mask_kind == "pad":
            valid = np.ones((b, skv), dtype=bool)
            valid[1, min(4, skv // 2):] = False
            valid[0, 65:80] = False
            mask = np.where(valid, 0.0, np.finfo(np.float32).min).astype(np.float32)
            mask = mask[:, None, None, :]
            types.append("tensor<?x1x1x?xf32>")
        elif mask_kind == "bool":
            mask = rng.rand(b, 1, sq, skv) > 0.3
            mask[..., 0] = True
            types.append("tensor<?x1x?x?xi1>")
        if mask is not None:
            text += " mask %a3"
            inputs.append(mask)
        attrs = ["num_heads = %d : i64" % h, "num_kv_heads = %d : i64" % kvh]
        if causal:
            attrs.append("causal")
        if scale is not None:
            attrs.append("scale = %.17e : f64" % scale)
        out = "tensor<?x?x%dxf32>" % (h * dv)
        text += " {%s} : (%s) -> %s" % (", ".join(attrs), ", ".join(types), out)
        want = attention_reference(q, k, v, h, kvh, causal, mask,
                                   scale if scale is not None else 1 / math.sqrt(dh))
        results.append(run_case("attention_%d" % len(results), types, out, text,
                                inputs, want))
    return results


@case("attention_kv_cache")
def _():
    """The cached form: new keys/values land in the caches at each sequence's
    position, queries attend to the rows written so far. Caches start with
    random rows, so reading an unwritten row shows up as an error."""
    results = []
    configs = [
        # b, q_len, kv_len, heads, kv_heads, dh, capacity, positions, causal, mask
        (2, 1, 1, 4, 2, 8, 16, [3, 9], True, None),       # decode, GQA
        (2, 5, 5, 3, 3, 5, 12, [0, 4], True, None),       # prefill, odd dims
        (3, 2, 2, 4, 1, 8, 9, [7, 0, 2], True, None),     # MQA, cache filled
        (2, 3, 3, 2, 2, 8, 10, [2, 0], False, "pad"),     # mask over capacity
        (1, 1, 1, 4, 4, 16, 32, [31], True, None),        # last row
        # A long prefill and decode over several key tiles.
        (2, 90, 90, 4, 2, 8, 200, [0, 100], True, None),
        (2, 1, 1, 2, 2, 8, 160, [150, 70], True, None),
        (1, 70, 70, 2, 2, 8, 150, [75], False, "pad"),
    ]
    for (b, sq, skv, h, kvh, dh, cap, positions, causal, mask_kind) in configs:
        q, k, v = rand(b, sq, h * dh), rand(b, skv, kvh * dh), rand(b, skv, kvh * dh)
        kc, vc = rand(b, kvh, cap, dh), rand(b, kvh, cap, dh)
        pos = np.array(positions, dtype=np.int64)
        # Dynamic batch and lengths, except for batch 1 (static shapes).
        bd, qd, kd = (b, sq, skv) if b == 1 else ("?", "?", "?")
        cache = "tensor<%sx%dx%dx%dxf32>" % (bd, kvh, cap, dh)
        types = ["tensor<%sx%sx%dxf32>" % (bd, qd, h * dh),
                 "tensor<%sx%sx%dxf32>" % (bd, kd, kvh * dh),
                 "tensor<%sx%sx%dxf32>" % (bd, kd, kvh * dh), cache, cache,
                 "tensor<%sxi64>" % bd]
        inputs = [q, k, v, kc.copy(), vc.copy(), pos]
        text = "%r:3 = llm.attention %a0, %a1, %a2"
        mask = None
        if mask_kind == "pad":
            valid = np.ones((b, cap), dtype=bool)
            valid[0, 1] = False
            valid[0, cap // 2] = False
            mask = np.where(valid, 0.0, np.finfo(np.float32).min).astype(np.float32)
            mask = mask[:, None, None, :]
            types.insert(3, "tensor<%sx1x1x%dxf32>" % (bd, cap))
            inputs.insert(3, mask)
            text += " mask %a3 cache(%a4, %a5, %a6)"
        else:
            text += " cache(%a3, %a4, %a5)"
        attrs = ["num_heads = %d : i64" % h, "num_kv_heads = %d : i64" % kvh]
        if causal:
            attrs.append("causal")
        out = "tensor<%sx%sx%dxf32>" % (bd, qd, h * dh)
        text += " {%s} : (%s) -> (%s, %s, %s)" % (", ".join(attrs), ", ".join(types),
                                                  out, cache, cache)
        want_kc, want_vc = kc.copy(), vc.copy()
        want = np.zeros((b, sq, h * dh), dtype=np.float64)
        for i, p in enumerate(positions):
            want_kc[i, :, p:p + skv] = k[i].reshape(skv, kvh, dh).transpose(1, 0, 2)
            want_vc[i, :, p:p + skv] = v[i].reshape(skv, kvh, dh).transpose(1, 0, 2)
            keys = want_kc[i:i + 1, :, :p + skv].transpose(0, 2, 1, 3).reshape(1, p + skv, -1)
            values = want_vc[i:i + 1, :, :p + skv].transpose(0, 2, 1, 3).reshape(1, p + skv, -1)
            m = None if mask is None else mask[i:i + 1, ..., :p + skv]
            want[i] = attention_reference(q[i:i + 1], keys, values, h, kvh, causal, m,
                                          1 / math.sqrt(dh))[0]
        results.append(run_case("attention_kv_cache_%d" % len(results), types,
                                [out, cache, cache], text, inputs,
                                [want, want_kc, want_vc]))
    return results


@case("ffn")
def _():
    results = []
    acts = {"relu": F.relu, "gelu": F.gelu, "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
            "silu": F.silu}
    # 128 hidden units fill two panels: the in_out kernels then apply the
    # activation (or act(gate) * up) to their accumulators.
    for act, layout, (d, f) in itertools.product(
            ["relu", "gelu", "gelu_tanh", "silu", "swiglu", "geglu"],
            ["out_in", "in_out"], [(20, 36), (24, 128)]):
            x = rand(2, 5, d)
            gated = act in ("swiglu", "geglu")
            wu = rand(f, d) if layout == "out_in" else rand(d, f)
            wg = rand(f, d) if layout == "out_in" else rand(d, f)
            wd = rand(d, f) if layout == "out_in" else rand(f, d)
            bu, bd = rand(f), rand(d)
            lin = (lambda t, w, bb: F.linear(t, t64(w), bb)) if layout == "out_in" else \
                  (lambda t, w, bb: F.linear(t, t64(w).T, bb))
            xt = t64(x)
            up = lin(xt, wu, t64(bu))
            if gated:
                gate = lin(xt, wg, None)
                hidden = (F.silu(gate) if act == "swiglu" else F.gelu(gate)) * up
            else:
                hidden = acts[act](up)
            want = lin(hidden, wd, t64(bd)).numpy()
            types = ["tensor<?x?x%dxf32>" % d, ttype(wu.shape), ttype((f,))]
            text = "%%r = llm.ffn %s %%a0 up %%a1 bias %%a2" % act
            inputs = [x, wu, bu]
            if gated:
                text += " gate %a3 down %a4 bias %a5"
                types += [ttype(wg.shape), ttype(wd.shape), ttype((d,))]
                inputs += [wg, wd, bd]
            else:
                text += " down %a3 bias %a4"
                types += [ttype(wd.shape), ttype((d,))]
                inputs += [wd, bd]
            if layout == "in_out":
                text += " layout in_out"
            out = "tensor<?x?x%dxf32>" % d
            text += " : (%s) -> %s" % (", ".join(types), out)
            results.append(run_case("ffn_%s_%s_%d" % (act, layout, f), types, out, text,
                                    inputs, want))
    return results


@case("projection_epilogue")
def _():
    """A projection with what llm-fuse-epilogue folds into it: a residual
    add (into the starting value), and tanh-GELU plus a residual (into the
    kernel's last block of K). Packed weights (llm.param) take the panel
    kernel, 1100 rows of K two blocks of it and 100 columns a masked last
    panel; plain ones the copied-panel (in_out) or dot (out_in) kernels."""
    results = []
    for (k, n) in [(40, 128), (1100, 100)]:
        for layout in ["out_in", "in_out"]:
            for packed in [False, True]:
                for chain in ["residual", "gelu_residual"]:
                    x, r, b = rand(2, 5, k), rand(2, 5, n), rand(n)
                    w = rand(n, k) if layout == "out_in" else rand(k, n)
                    wt = t64(w) if layout == "out_in" else t64(w).T
                    y = F.linear(t64(x), wt, t64(b))
                    if chain == "gelu_residual":
                        y = F.gelu(y, approximate="tanh")
                    want = (y + t64(r)).numpy()
                    wtype = ttype(w.shape)
                    if packed:
                        wtype += ' {llm.param = "w"}'
                    act = ttype((2, 5, n))
                    types = [ttype((2, 5, k)), wtype, ttype((n,)), act]
                    text = "%%y = llm.linear %%a0, %%a1 bias %%a2%s : (%s) -> %s" % (
                        " layout in_out" if layout == "in_out" else "",
                        ", ".join([types[0], ttype(w.shape), types[2]]), act)
                    last = "%y"
                    if chain == "gelu_residual":
                        text += "\n  %%g = llm.gelu %%y approximate tanh : %s" % act
                        last = "%g"
                    text += "\n  %%r = arith.addf %s, %%a3 : %s" % (last, act)
                    name = "epilogue_%d_%s_%s_%s" % (
                        k, layout, "packed" if packed else "plain", chain)
                    results.append(run_case(name, types, act, text,
                                            [x, w, b, r], want))
    return results


@case("cross_entropy")
def _():
    results = []
    logits = rand(3, 7, 29) * 3
    labels = rng.randint(0, 29, size=(3, 7)).astype(np.int64)
    labels[0, :2] = -100
    for reduction in ["mean", "sum", "none"]:
        for smoothing in [0.0, 0.1]:
            want = F.cross_entropy(t64(logits).reshape(-1, 29), torch.tensor(labels).reshape(-1),
                                   ignore_index=-100, reduction=reduction,
                                   label_smoothing=smoothing)
            if reduction == "none":
                want = want.reshape(3, 7)
            want = want.numpy()
            out = "tensor<?x?xf32>" if reduction == "none" else "tensor<f32>"
            red = "" if reduction == "mean" else " reduction %s" % reduction
            text = ("%%r = llm.cross_entropy %%a0, %%a1%s {label_smoothing = %.17e : f64} : "
                    "(tensor<?x?x29xf32>, tensor<?x?xi64>) -> %s" % (red, smoothing, out))
            results.append(run_case("ce_%d" % len(results),
                                    ["tensor<?x?x29xf32>", "tensor<?x?xi64>"], out, text,
                                    [logits, labels], want))
    return results


@case("kl_div")
def _():
    results = []
    student = rand(3, 7, 29) * 3
    teacher = rand(3, 7, 29) * 3
    labels = rng.randint(0, 29, size=(3, 7)).astype(np.int64)
    labels[0, :2] = -100
    counted = torch.tensor(labels) != -100
    for temperature in [1.0, 2.0, 0.5]:
        per = F.kl_div(F.log_softmax(t64(student) / temperature, -1),
                       F.softmax(t64(teacher) / temperature, -1), reduction="none").sum(-1)
        want = per[counted].mean().numpy()
        types = ["tensor<?x?x29xf32>", "tensor<?x?x29xf32>", "tensor<?x?xi64>", "tensor<f32>"]
        text = ("%%r = llm.kl_div %%a0, %%a1, %%a2, %%a3 : (%s) -> tensor<f32>" % ", ".join(types))
        results.append(run_case("kl_%d" % len(results), types, "tensor<f32>", text,
                                [student, teacher, labels,
                                 np.array(temperature, dtype=np.float32)], want))
    return results


def main():
    os.makedirs(WORK, exist_ok=True)
    failures = 0
    for name, fn in CASES:
        if FILTERS and not any(f in name for f in FILTERS):
            continue
        errors = fn()
        worst = max(errors)
        status = "ok" if worst <= TOLERANCE else "FAIL"
        failures += sum(e > TOLERANCE for e in errors)
        print("%-20s %2d cases, max scaled error %.2e  %s" % (name, len(errors), worst, status))
    print("op numerics: %d failing cases (tolerance %.0e)" % (failures, TOLERANCE))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
