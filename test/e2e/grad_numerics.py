"""Gradients built by llm-autodiff, compiled and run, against PyTorch autograd.

Usage: grad_numerics.py LLM_OPT LLM_COMPILE WORK_DIR

Each case is a small function in the llm dialect. `llm-opt --llm-autodiff`
adds its vector-Jacobian product NAME_vjp(args, seed) -> (results, grads of
the float arguments); llm-compile compiles it, and it runs through the ABI
with random inputs and a random seed (1.0 for a scalar loss). PyTorch
computes the same function in float64 and `torch.autograd.grad` with the
same seed. Every gradient must match within rtol 1e-3: max |got - want| /
max(1, max |want|) <= 1e-3 (the issue's tolerance; fp32 differences are
~1e-6). A case that needs an op without a gradient would fail to compile.
"""

import os
import re
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llm_artifact  # noqa: E402

TOLERANCE = 1e-3
LLM_OPT, LLM_COMPILE, WORK = sys.argv[1:4]
rng = np.random.RandomState(3)


def rand(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh((2 / np.pi) ** 0.5 * (x + 0.044715 * x ** 3)))


# name -> (MLIR function text, inputs, reference(torch float64 tensors) -> outputs)
CASES = []


def case(name, mlir, inputs, reference, flags=()):
    CASES.append((name, mlir, inputs, reference, list(flags)))


def T(*shape):
    return "tensor<%sxf32>" % "x".join(str(d) for d in shape)


case("linear out_in + bias",
     "func.func @f(%x: {x}, %w: {w} {{llm.param = \"w\"}}, %b: {b} {{llm.param = \"b\"}}) -> {y} {{\n"
     "  %y = llm.linear %x, %w bias %b : ({x}, {w}, {b}) -> {y}\n"
     "  return %y : {y}\n}}".format(x=T(3, 5, 7), w=T(11, 7), b=T(11), y=T(3, 5, 11)),
     [rand(3, 5, 7), rand(11, 7), rand(11)],
     lambda x, w, b: [x @ w.T + b])

case("linear in_out",
     "func.func @f(%x: {x}, %w: {w}) -> {y} {{\n"
     "  %y = llm.linear %x, %w layout in_out : ({x}, {w}) -> {y}\n"
     "  return %y : {y}\n}}".format(x=T(4, 9), w=T(9, 6), y=T(4, 6)),
     [rand(4, 9), rand(9, 6)],
     lambda x, w: [x @ w])

case("layer_norm weight + bias",
     "func.func @f(%x: {x}, %g: {g}, %b: {g}) -> {x} {{\n"
     "  %y = llm.layer_norm %x weight %g bias %b {{epsilon = 1.0e-05 : f64}} : ({x}, {g}, {g}) -> {x}\n"
     "  return %y : {x}\n}}".format(x=T(2, 3, 10), g=T(10)),
     [rand(2, 3, 10), rand(10), rand(10)],
     lambda x, g, b: [F.layer_norm(x, (10,), g, b, 1e-5)])

case("layer_norm plain",
     "func.func @f(%x: {x}) -> {x} {{\n"
     "  %y = llm.layer_norm %x : ({x}) -> {x}\n"
     "  return %y : {x}\n}}".format(x=T(6, 17)),
     [rand(6, 17)],
     lambda x: [F.layer_norm(x, (17,), eps=1e-5)])

case("gelu exact",
     "func.func @f(%x: {x}) -> {x} {{\n  %y = llm.gelu %x : {x}\n  return %y : {x}\n}}".format(x=T(5, 19)),
     [3 * rand(5, 19)],
     lambda x: [F.gelu(x)])

case("gelu tanh",
     "func.func @f(%x: {x}) -> {x} {{\n  %y = llm.gelu %x approximate tanh : {x}\n  return %y : {x}\n}}".format(x=T(5, 19)),
     [3 * rand(5, 19)],
     lambda x: [gelu_tanh(x)])

case("embedding (repeated ids)",
     "func.func @f(%ids: tensor<2x6xi64>, %t: {t}) -> {y} {{\n"
     "  %y = llm.embedding %t[%ids] : ({t}, tensor<2x6xi64>) -> {y}\n"
     "  return %y : {y}\n}}".format(t=T(9, 4), y=T(2, 6, 4)),
     [np.array([[1, 3, 3, 0, 8, 1], [3, 3, 5, 1, 2, 0]], dtype=np.int64), rand(9, 4)],
     lambda ids, t: [t[ids]])

for reduction, extra in [("mean", "{ignore_index = 2 : i64, label_smoothing = 1.0e-01 : f64}"),
                         ("sum", "{label_smoothing = 0.0 : f64}"),
                         ("none", "{ignore_index = 2 : i64}")]:
    result = "tensor<f32>" if reduction != "none" else "tensor<4x3xf32>"
    smoothing = 0.1 if reduction == "mean" else 0.0
    ignore = -100 if reduction == "sum" else 2

    def reference(logits, labels, reduction=reduction, smoothing=smoothing, ignore=ignore):
        out = F.cross_entropy(logits.reshape(-1, 7), labels.reshape(-1), ignore_index=ignore,
                              reduction=reduction, label_smoothing=smoothing)
        return [out.reshape(4, 3) if reduction == "none" else out]
    case("cross_entropy %s" % reduction,
         "func.func @f(%l: {l}, %y: tensor<4x3xi64>) -> {r} {{\n"
         "  %loss = llm.cross_entropy %l, %y reduction {red} {extra} : ({l}, tensor<4x3xi64>) -> {r}\n"
         "  return %loss : {r}\n}}".format(l=T(4, 3, 7), r=result, red=reduction, extra=extra),
         [rand(4, 3, 7), np.array([[0, 2, 6], [2, 5, 1], [3, 3, 2], [4, 0, 6]], dtype=np.int64)],
         reference)



def kl_reference(s, t, labels, temperature):
    # The teacher and the temperature are constants: no gradient (zeros).
    t, temperature = t.detach(), temperature.detach()
    per = F.kl_div(F.log_softmax(s / temperature, -1), F.softmax(t / temperature, -1),
                   reduction="none").sum(-1)
    counted = labels != -100
    return [per[counted].mean()]


case("kl_div at a temperature",
     "func.func @f(%s: {l}, %t: {l}, %y: tensor<4x3xi64>, %temp: tensor<f32>) -> tensor<f32> {{\n"
     "  %loss = llm.kl_div %s, %t, %y, %temp : ({l}, {l}, tensor<4x3xi64>, tensor<f32>) -> tensor<f32>\n"
     "  return %loss : tensor<f32>\n}}".format(l=T(4, 3, 7)),
     [rand(4, 3, 7) * 2, rand(4, 3, 7) * 2,
      np.array([[0, -100, 6], [2, 5, 1], [-100, 3, 2], [4, 0, 6]], dtype=np.int64),
      np.array(2.5, dtype=np.float32)],
     kl_reference)

case("elementwise arith, slices and reshapes",
     "func.func @f(%a: {a}, %b: {a}) -> {o} {{\n"
     "  %s = arith.addf %a, %b : {a}\n"
     "  %m = arith.mulf %s, %a : {a}\n"
     "  %d = arith.divf %m, %b : {a}\n"
     "  %n = arith.negf %d : {a}\n"
     "  %u = arith.subf %n, %a : {a}\n"
     "  %q = tensor.extract_slice %u[0, 2] [3, 4] [1, 1] : {a} to {q}\n"
     "  %c = tensor.collapse_shape %q [[0, 1]] : {q} into {c}\n"
     "  %e = tensor.expand_shape %c [[0, 1]] output_shape [2, 6] : {c} into {o}\n"
     "  return %e : {o}\n}}".format(a=T(3, 8), q=T(3, 4), c=T(12), o=T(2, 6)),
     [rand(3, 8), rand(3, 8) + np.float32(4.0)],
     lambda a, b: [(-((a + b) * a / b) - a)[:, 2:6].reshape(2, 6)])

case("tanh (BERT's pooler)",
     "func.func @f(%x: {x}) -> {x} {{\n"
     "  %y = math.tanh %x : {x}\n"
     "  return %y : {x}\n}}".format(x=T(3, 8)),
     [rand(3, 8) * 2],
     lambda x: [torch.tanh(x)])

case("rms_norm weight",
     "func.func @f(%x: {x}, %g: {g}) -> {x} {{\n"
     "  %y = llm.rms_norm %x weight %g {{epsilon = 1.0e-06 : f64}} : ({x}, {g}) -> {x}\n"
     "  return %y : {x}\n}}".format(x=T(2, 3, 12), g=T(12)),
     [rand(2, 3, 12), rand(12)],
     lambda x, g: [x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-6) * g])

case("softmax",
     "func.func @f(%x: {x}) -> {x} {{\n  %y = llm.softmax %x : {x}\n  return %y : {x}\n}}".format(
         x=T(3, 4, 9)),
     [rand(3, 4, 9)],
     lambda x: [torch.softmax(x, -1)])

case("positional_encoding learned",
     "func.func @f(%x: {x}, %t: {t}) -> {x} {{\n"
     "  %y = llm.positional_encoding learned %x table %t : ({x}, {t}) -> {x}\n"
     "  return %y : {x}\n}}".format(x=T(2, 5, 6), t=T(8, 6)),
     [rand(2, 5, 6), rand(8, 6)],
     lambda x, t: [x + t[:5]])


def rope(x, head_dim, rotary, theta, interleaved, positions):
    b, s, f = x.shape
    xh = x.reshape(b, s, f // head_dim, head_dim)
    inv = 1.0 / (theta ** (torch.arange(0, rotary, 2, dtype=torch.float64) / rotary))
    ang = positions.to(torch.float64)[..., None] * inv
    cos, sin = torch.cos(ang)[:, :, None], torch.sin(ang)[:, :, None]
    rot, rest = xh[..., :rotary], xh[..., rotary:]
    if interleaved:
        x1, x2 = rot[..., 0::2], rot[..., 1::2]
        out = torch.stack([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1).flatten(-2)
    else:
        x1, x2 = rot[..., :rotary // 2], rot[..., rotary // 2:]
        out = torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)
    return torch.cat([out, rest], -1).reshape(b, s, f)


case("rope (implicit positions)",
     "func.func @f(%x: {x}) -> {x} {{\n"
     "  %y = llm.rope %x {{head_dim = 8 : i64}} : ({x}) -> {x}\n"
     "  return %y : {x}\n}}".format(x=T(2, 5, 24)),
     [rand(2, 5, 24)],
     lambda x: [rope(x, 8, 8, 10000.0, False, torch.arange(5)[None])])

case("rope (positions, partial, interleaved)",
     "func.func @f(%x: {x}, %p: tensor<2x5xi64>) -> {x} {{\n"
     "  %y = llm.rope %x positions %p {{head_dim = 8 : i64, rotary_dim = 4 : i64, interleaved, theta = 500.0 : f64}} : ({x}, tensor<2x5xi64>) -> {x}\n"
     "  return %y : {x}\n}}".format(x=T(2, 5, 16)),
     [rand(2, 5, 16), np.array([[3, 4, 5, 6, 7], [0, 1, 2, 3, 4]], dtype=np.int64)],
     lambda x, p: [rope(x, 8, 4, 500.0, True, p)])

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "gelu_tanh": gelu_tanh, "silu": F.silu}


def ffn_case(activation, gated, biases, in_out):
    d, f = 6, 10
    shape = (lambda o, i: (i, o)) if in_out else (lambda o, i: (o, i))
    args = ["%x: " + T(2, 3, d), "%wu: " + T(*shape(f, d))]
    types = [T(2, 3, d), T(*shape(f, d))]
    text = "llm.ffn %s %%x up %%wu" % activation
    inputs = [rand(2, 3, d), 0.5 * rand(*shape(f, d))]
    if biases:
        args.append("%bu: " + T(f)); types.append(T(f)); inputs.append(rand(f))
        text += " bias %bu"
    if gated:
        args.append("%wg: " + T(*shape(f, d))); types.append(T(*shape(f, d)))
        inputs.append(0.5 * rand(*shape(f, d)))
        text += " gate %wg"
        if biases:
            args.append("%bg: " + T(f)); types.append(T(f)); inputs.append(rand(f))
            text += " bias %bg"
    args.append("%wd: " + T(*shape(d, f))); types.append(T(*shape(d, f)))
    inputs.append(0.5 * rand(*shape(d, f)))
    text += " down %wd"
    if biases:
        args.append("%bd: " + T(d)); types.append(T(d)); inputs.append(rand(d))
        text += " bias %bd"
    if in_out:
        text += " layout in_out"
    mlir = "func.func @f(%s) -> %s {\n  %%y = %s : (%s) -> %s\n  return %%y : %s\n}" % (
        ", ".join(args), T(2, 3, d), text, ", ".join(types), T(2, 3, d), T(2, 3, d))
    act = ACTIVATIONS[{"swiglu": "silu", "geglu": "gelu"}.get(activation, activation)]

    def reference(*t):
        it = iter(t)
        x, wu = next(it), next(it)
        bu = next(it) if biases else None
        wg = next(it) if gated else None
        bg = next(it) if gated and biases else None
        wd = next(it)
        bd = next(it) if biases else None

        def lin(v, w, bias):
            out = v @ (w if in_out else w.T)
            return out + bias if bias is not None else out
        h = lin(x, wu, bu)
        hidden = act(lin(x, wg, bg)) * h if gated else act(h)
        return [lin(hidden, wd, bd)]
    case("ffn %s%s%s" % (activation, " + biases" if biases else "", " in_out" if in_out else ""),
         mlir, inputs, reference)


ffn_case("gelu_tanh", False, True, True)
ffn_case("relu", False, False, False)
ffn_case("silu", False, True, False)
ffn_case("gelu", False, False, True)
ffn_case("swiglu", True, False, False)
ffn_case("geglu", True, True, False)

def attention_reference(q, k, v, heads, kv_heads, causal, mask, scale):
    b, s, hd = q.shape
    t = k.shape[1]
    d = hd // heads
    dv = v.shape[2] // kv_heads
    qh = q.reshape(b, s, heads, d).transpose(1, 2)
    kh = k.reshape(b, t, kv_heads, d).transpose(1, 2).repeat_interleave(heads // kv_heads, 1)
    vh = v.reshape(b, t, kv_heads, dv).transpose(1, 2).repeat_interleave(heads // kv_heads, 1)
    scores = qh @ kh.transpose(-1, -2) * scale
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    if causal:
        allowed = torch.ones(s, t, dtype=torch.bool).tril(t - s)
        scores = scores.masked_fill(~allowed, float("-inf"))
    return (scores.softmax(-1) @ vh).transpose(1, 2).reshape(b, s, heads * dv)


def attention_case(name, b, s, t, heads, kv_heads, d, causal, mask=None, scale=None,
                   flags=()):
    qt, kt, vt = T(b, s, heads * d), T(b, t, kv_heads * d), T(b, t, kv_heads * d)
    attrs = ["num_heads = %d : i64" % heads, "num_kv_heads = %d : i64" % kv_heads]
    if causal:
        attrs.insert(0, "causal")
    if scale is not None:
        attrs.append("scale = %r : f64" % scale)
    args = ["%q: " + qt, "%k: " + kt, "%v: " + vt]
    types = [qt, kt, vt]
    inputs = [rand(b, s, heads * d), rand(b, t, kv_heads * d), rand(b, t, kv_heads * d)]
    operand = ""
    if mask is not None:
        mt = "tensor<%s>" % "x".join([str(n) for n in mask.shape] + ["i1" if mask.dtype == np.bool_ else "f32"])
        args.append("%m: " + mt)
        types.append(mt)
        inputs.append(mask)
        operand = " mask %m"
    mlir = ("func.func @f(%s) -> %s {\n  %%y = llm.attention %%q, %%k, %%v%s {%s} : (%s) -> %s\n"
            "  return %%y : %s\n}" % (", ".join(args), qt, operand, ", ".join(attrs),
                                       ", ".join(types), qt, qt))
    eff_scale = scale if scale is not None else d ** -0.5

    def reference(q, k, v, m=None):
        return [attention_reference(q, k, v, heads, kv_heads, causal, m, eff_scale)]
    case("attention " + name, mlir, inputs, reference, flags)


attention_case("causal MHA", 2, 5, 5, 3, 3, 4, True)
attention_case("causal GQA (4 heads, 2 KV heads)", 1, 6, 6, 4, 2, 4, True, scale=0.3)
padding = np.ones((2, 1, 1, 5), dtype=np.bool_)
padding[1, 0, 0, 3:] = False
attention_case("bool padding mask, bidirectional", 2, 5, 5, 2, 2, 4, False, mask=padding)
attention_case("float mask, q_len < kv_len, causal", 1, 3, 7, 2, 1, 4, True,
               mask=(0.5 * rand(1, 2, 3, 7)))
# llm.attention_grad in tiles smaller than the sequences, neither dividing
# them: the last tiles repeat rows and keys, causal tiles above the diagonal
# are skipped, and dK, dV sum over query tiles.
TILES = ["--attention-query-tile=3", "--attention-key-tile=4"]
attention_case("tiled causal GQA, 3 x 4 tiles", 2, 10, 10, 4, 2, 4, True, flags=TILES)
padding2 = np.ones((2, 1, 1, 11), dtype=np.bool_)
padding2[0, 0, 0, 8:] = False
attention_case("tiled bool mask, q_len < kv_len, causal", 2, 7, 11, 2, 1, 4, True,
               mask=padding2, flags=TILES)
attention_case("tiled bidirectional, 3 x 4 tiles", 1, 9, 9, 2, 2, 4, False, flags=TILES)
# Unfused: one tile spans every query and key (the scores materialized).
attention_case("untiled causal GQA", 2, 10, 10, 4, 2, 4, True,
               flags=["--fuse-attention=false"])

# A block of a GPT-2-style model without attention: tied embedding, fused
# projection split by slices, LayerNorm, tanh GELU, residual, LM head and
# the causal-LM loss.
MLP = """func.func @f(%ids: tensor<2x5xi64>, %labels: tensor<2x5xi64>,
                %emb: tensor<13x8xf32> {llm.param = "emb"},
                %w: tensor<16x8xf32> {llm.param = "w"},
                %b: tensor<16xf32> {llm.param = "b"},
                %g: tensor<8xf32> {llm.param = "g"},
                %be: tensor<8xf32> {llm.param = "be"},
                %h: tensor<8x8xf32> {llm.param = "h"}) -> tensor<f32> {
  %x = llm.embedding %emb[%ids] : (tensor<13x8xf32>, tensor<2x5xi64>) -> tensor<2x5x8xf32>
  %y = llm.linear %x, %w bias %b : (tensor<2x5x8xf32>, tensor<16x8xf32>, tensor<16xf32>) -> tensor<2x5x16xf32>
  %y0 = tensor.extract_slice %y[0, 0, 0] [2, 5, 8] [1, 1, 1] : tensor<2x5x16xf32> to tensor<2x5x8xf32>
  %y1 = tensor.extract_slice %y[0, 0, 8] [2, 5, 8] [1, 1, 1] : tensor<2x5x16xf32> to tensor<2x5x8xf32>
  %p = arith.mulf %y0, %y1 : tensor<2x5x8xf32>
  %n = llm.layer_norm %p weight %g bias %be : (tensor<2x5x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x5x8xf32>
  %a = llm.gelu %n approximate tanh : tensor<2x5x8xf32>
  %z = llm.linear %a, %h layout in_out : (tensor<2x5x8xf32>, tensor<8x8xf32>) -> tensor<2x5x8xf32>
  %r = arith.addf %x, %z : tensor<2x5x8xf32>
  %logits = llm.linear %r, %emb : (tensor<2x5x8xf32>, tensor<13x8xf32>) -> tensor<2x5x13xf32>
  %loss = llm.cross_entropy %logits, %labels : (tensor<2x5x13xf32>, tensor<2x5xi64>) -> tensor<f32>
  return %loss : tensor<f32>
}"""


def mlp_reference(ids, labels, emb, w, b, g, be, h):
    x = emb[ids]
    y = x @ w.T + b
    p = y[..., :8] * y[..., 8:]
    a = gelu_tanh(F.layer_norm(p, (8,), g, be, 1e-5))
    r = x + a @ h
    return [F.cross_entropy((r @ emb.T).reshape(-1, 13), labels.reshape(-1))]


case("composed block + LM loss", MLP,
     [rng.randint(0, 13, size=(2, 5)).astype(np.int64),
      rng.randint(0, 13, size=(2, 5)).astype(np.int64),
      rand(13, 8), 0.5 * rand(16, 8), rand(16), rand(8), rand(8), 0.5 * rand(8, 8)],
     mlp_reference)

case("composed block + LM loss, head in chunks of 2", MLP,
     [rng.randint(0, 13, size=(2, 5)).astype(np.int64),
      rng.randint(0, 13, size=(2, 5)).astype(np.int64),
      rand(13, 8), 0.5 * rand(16, 8), rand(16), rand(8), rand(8), 0.5 * rand(8, 8)],
     mlp_reference, flags=["--lm-head-chunk=2"])

# llm-chunk-lm-head over chunks of 2 of 5 rows (a partial last chunk): the
# LM head with a bias, label smoothing and ignored positions; per-position
# losses (each with its own seed); [rows, classes] logits without a batch.
LM_LABELS = np.array([[0, 2, 6, 2, 1], [3, 6, 2, 5, 4]], dtype=np.int64)
for reduction, rows in [("mean", True), ("none", True), ("sum", False)]:
    lead = (2, 5) if rows else (5,)
    result = "tensor<f32>" if reduction != "none" else T(*lead)
    labels_type = "tensor<%sxi64>" % "x".join(str(d) for d in lead)
    extra = ("{ignore_index = 2 : i64, label_smoothing = 1.0e-01 : f64}" if reduction == "mean"
             else "{ignore_index = 2 : i64}" if reduction == "none" else "")

    def lm_reference(x, w, b, labels, reduction=reduction):
        smoothing = 0.1 if reduction == "mean" else 0.0
        ignore = -100 if reduction == "sum" else 2
        out = F.cross_entropy((x @ w.T + b).reshape(-1, 7), labels.reshape(-1), ignore_index=ignore,
                              reduction=reduction, label_smoothing=smoothing)
        return [out.reshape(labels.shape) if reduction == "none" else out]
    case("LM head + cross_entropy %s, chunks of 2" % reduction,
         "func.func @f(%x: {x}, %w: {w} {{llm.param = \"w\"}}, %b: {b} {{llm.param = \"b\"}},\n"
         "             %y: {lt}) -> {r} {{\n"
         "  %l = llm.linear %x, %w bias %b : ({x}, {w}, {b}) -> {l}\n"
         "  %loss = llm.cross_entropy %l, %y reduction {red} {extra} : ({l}, {lt}) -> {r}\n"
         "  return %loss : {r}\n}}".format(x=T(*lead, 4), w=T(7, 4), b=T(7), l=T(*lead, 7),
                                         lt=labels_type, r=result, red=reduction, extra=extra),
         [rand(*lead, 4), rand(7, 4), rand(7), LM_LABELS if rows else LM_LABELS[0]],
         lm_reference, flags=["--lm-head-chunk=2"])


def run(index, name, mlir, inputs, reference, flags):
    folder = os.path.join(WORK, "case%d" % index)
    source = folder + ".mlir"
    with open(source, "w") as f:
        f.write(mlir + "\n")
    vjp_source = folder + ".vjp.mlir"
    subprocess.run([LLM_OPT, "--llm-autodiff", source, "-o", vjp_source], check=True)
    subprocess.run([LLM_COMPILE, vjp_source, "-o", folder] + flags, check=True,
                   stdout=subprocess.DEVNULL)
    art = llm_artifact.Artifact(folder)

    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True)
               if a.dtype == np.float32 else torch.tensor(a) for a in inputs]
    outputs = reference(*tensors)
    seeds = [np.float32(1.0) * np.ones(o.shape, dtype=np.float32) if o.dim() == 0
             else rand(*o.shape) for o in outputs]
    float_inputs = [t for t in tensors if t.dtype == torch.float64]
    want = torch.autograd.grad(outputs, float_inputs,
                               grad_outputs=[torch.tensor(s, dtype=torch.float64) for s in seeds],
                               allow_unused=True)
    # An input the reference treats as a constant gets a zero gradient.
    want = [torch.zeros_like(t) if w is None else w for w, t in zip(want, float_inputs)]

    # The vjp's inputs: params by name (packing may add or reorder them),
    # the other arguments and then the seeds in order.
    signature = mlir[mlir.index("(") + 1:mlir.index(") ->")]
    names = [m.group(1) for m in re.finditer(r'%\w+: tensor<[^>]*>(?: \{llm.param = "(\w+)"\})?',
                                             signature)]
    params = {n: v for n, v in zip(names, inputs) if n}
    others = [v for n, v in zip(names, inputs) if not n] + seeds
    args = []
    for spec in art.entries["f_vjp"]["inputs"]:
        args.append(params[spec["name"]] if spec["kind"] == "param" else others.pop(0))
    got = art.call("f_vjp", *args)
    got = got if isinstance(got, list) else [got]
    got_outputs, got_grads = got[:len(outputs)], got[len(outputs):]
    errors = [llm_artifact.max_scaled_error(g, o.detach().numpy())
              for g, o in zip(got_outputs, outputs)]
    errors += [llm_artifact.max_scaled_error(g, w.numpy()) for g, w in zip(got_grads, want)]
    worst = max(errors)
    ok = worst <= TOLERANCE and len(got_grads) == len(want)
    print("%-40s %d gradients, max scaled error %.2e  %s"
          % (name, len(want), worst, "ok" if ok else "FAIL"))
    return ok


def main():
    ok = True
    for index, (name, mlir, inputs, reference, flags) in enumerate(CASES):
        ok &= run(index, name, mlir, inputs, reference, flags)
    print("gradient numerics: " + ("all within tolerance" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
