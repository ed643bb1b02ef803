#!/usr/bin/python3
"""Export tiny GPT-2, BERT and LLaMA-style models to ONNX with
torch.onnx.export, with reference inputs and outputs, for the ONNX importer's
model tests and the ONNX Runtime peer.

    /usr/bin/python3 utils/export_onnx_models.py --out DIR
        [--families gpt2,bert,llama] [--opsets 14,17] [--seed N]
        [--init-std S] [--no-ort] [--threads N] [--quiet]
        [--layers L] [--hidden D] [--heads H] [--kv-heads K] [--vocab V]
        [--ctx N] [--intermediate F]

The models are the PyTorch references of utils/llm_ref/models.py (functional
forwards over a Hugging Face state dict), wrapped in an nn.Module whose
parameters are that state dict, so that the ONNX initializers carry the HF
tensor names wherever the exporter keeps a parameter as it is (it folds
transposed copies, e.g. nn.Linear weights and GPT-2's tied lm_head, into new
initializers named onnx::MatMul_N). Random weights (seeded), tiny configs:

    gpt2   2 layers, hidden 64, 4 heads, vocab 101, 32 positions, tanh GELU,
           tied lm_head (causal mask via Trilu/Not/Where)
    bert   2 layers, hidden 48, 4 heads, vocab 101, 32 positions, exact GELU
           (Erf), inputs input_ids, attention_mask (padding), token_type_ids
    llama  2 layers, hidden 64, 4 heads, 2 KV heads (GQA), vocab 101,
           intermediate 96, RMSNorm, RoPE, SwiGLU, untied lm_head

Each is exported at every opset asked for (default 14 and 17: LayerNorm is
spelled out at 14 and one LayerNormalization op at 17) with dynamic batch and
sequence axes. Output, per model and opset, DIR/<family>-opset<N>/:

    model.onnx           the export (inputs input_ids [, attention_mask,
                         token_type_ids]; output logits [batch, sequence, vocab])
    config.json,         the same weights as a Hugging Face folder
    model.safetensors    (llm-compile DIR/<family>-opset<N> reads it too)
    ref_<case>.in.npz    inputs (int64) of one reference case
    ref_<case>.out.npz   PyTorch's outputs (logits, fp32) for them
    info.json            family, opset, config, the ONNX ops used, the cases,
                         and ONNX Runtime's error against PyTorch per case

The cases are batch x sequence 1x1, 2x7 and 1xCTX (the maximum, 32); BERT's batch-2
case pads the second row (attention_mask 0 on its last 3 positions) and uses
both segments.

Checks: onnx.checker (with strict shape inference) on every export, and,
unless --no-ort, ONNX Runtime (utils/ort, through test/e2e/ort_peer.py) on
every case against PyTorch: max |ort - torch| / max(1, max |torch|) must be
<= 1e-4 (it is ~1e-6 in practice). Exit status 1 when a check fails.
"""

import argparse
import json
import os
import shutil
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402

from llm_ref import models, safetensors_io  # noqa: E402

TOLERANCE = 1e-4
FAMILIES = ("gpt2", "bert", "llama")
CONFIGS = {
    "gpt2": dict(layers=2, hidden=64, heads=4, vocab=101, ctx=32),
    "bert": dict(layers=2, hidden=48, heads=4, vocab=101, ctx=32, intermediate=96),
    "llama": dict(layers=2, hidden=64, heads=4, kv_heads=2, vocab=101, ctx=32,
                  intermediate=96),
}
# (batch, sequence); the sequence None is the model's maximum.
CASES = [(1, 1), (2, 7), (1, None)]


class RefModel(torch.nn.Module):
    """A reference forward of utils/llm_ref over this module's parameters,
    which are the HF state dict (nested submodules, so that
    named_parameters() yields the HF names)."""

    def __init__(self, config, state):
        super().__init__()
        self.config = config
        for name, tensor in state.items():
            owner = self
            *path, leaf = name.split(".")
            for part in path:
                if not hasattr(owner, part):
                    owner.add_module(part, torch.nn.Module())
                owner = getattr(owner, part)
            owner.register_parameter(
                leaf, torch.nn.Parameter(tensor.clone(), requires_grad=False))
        self._forward = models._FORWARD[config["model_type"]]
        # Validate the names and shapes once, here: see forward().
        models.canonicalize_state_dict(config, state)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        state = dict(self.named_parameters())
        # The reference forwards canonicalize their state dict, which upcasts
        # every tensor with .float(): a no-op on fp32 tensors that the tracer
        # nevertheless records, and the exporter then folds each parameter
        # into a renamed copy (onnx::Gather_N instead of the HF name). The
        # state is canonical fp32 already (checked in __init__): pass it as
        # it is.
        saved = models.canonicalize_state_dict
        models.canonicalize_state_dict = lambda config, sd: sd
        try:
            return self._forward(self.config, state, input_ids,
                                 attention_mask=attention_mask,
                                 token_type_ids=token_type_ids)
        finally:
            models.canonicalize_state_dict = saved


def input_names(family):
    return ["input_ids", "attention_mask", "token_type_ids"] if family == "bert" else ["input_ids"]


def make_inputs(family, config, batch, seq, rng):
    vocab = config["vocab_size"]
    feeds = {"input_ids": rng.randint(0, vocab, size=(batch, seq)).astype(np.int64)}
    if family == "bert":
        mask = np.ones((batch, seq), dtype=np.int64)
        if batch > 1 and seq > 3:
            mask[1, seq - 3:] = 0  # a padded row
        feeds["attention_mask"] = mask
        feeds["token_type_ids"] = (np.arange(seq)[None, :] >= seq // 2).astype(np.int64).repeat(batch, 0)
    return feeds


def max_positions(config):
    return config.get("n_positions") or config["max_position_embeddings"]


def scaled_error(got, want):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return float("inf")
    if want.size == 0:
        return 0.0
    return float(np.max(np.abs(got - want))) / max(1.0, float(np.max(np.abs(want))))


def export_one(family, opset, out_dir, seed, init_std, log, overrides=None):
    sizes = dict(CONFIGS[family])
    sizes.update({k: v for k, v in (overrides or {}).items() if v is not None})
    if family != "llama":
        sizes.pop("kv_heads", None)
    config = models.default_config(family, **sizes)
    state = models.init_state_dict(config, seed=seed, std=init_std)
    module = RefModel(config, state).eval()
    names = input_names(family)

    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    safetensors_io.save_file(state, os.path.join(out_dir, "model.safetensors"),
                             metadata={"format": "pt"})

    # Trace at batch 2, sequence 5: sizes that are neither 1 nor a dimension
    # of the weights, so that no dynamic size gets confused with a constant.
    rng = np.random.RandomState(seed + 1000)
    example = make_inputs(family, config, 2, 5, rng)
    args = tuple(torch.from_numpy(example[n]) for n in names)
    dynamic = {n: {0: "batch", 1: "sequence"} for n in names}
    dynamic["logits"] = {0: "batch", 1: "sequence"}
    model_path = os.path.join(out_dir, "model.onnx")
    with warnings.catch_warnings():
        # The reference's input checks (min/max of the ids) are traced as
        # constants; torch warns about each.
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, model_path, input_names=names,
                          output_names=["logits"], dynamic_axes=dynamic,
                          opset_version=opset, do_constant_folding=True,
                          export_params=True)

    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    ops = sorted({n.op_type for n in model.graph.node})
    initializers = [i.name for i in model.graph.initializer]

    cases = []
    rng = np.random.RandomState(seed)
    for batch, seq in CASES:
        seq = seq or max_positions(config)
        feeds = make_inputs(family, config, batch, seq, rng)
        with torch.no_grad():
            logits = module(*(torch.from_numpy(feeds[n]) for n in names))
        logits = logits.numpy().astype(np.float32)
        tag = "b%d_s%d" % (batch, seq)
        np.savez(os.path.join(out_dir, "ref_%s.in.npz" % tag), **feeds)
        np.savez(os.path.join(out_dir, "ref_%s.out.npz" % tag), logits=logits)
        cases.append({"name": tag, "batch": batch, "sequence": seq,
                      "inputs": "ref_%s.in.npz" % tag,
                      "outputs": "ref_%s.out.npz" % tag})
    info = {"family": family, "opset": opset, "seed": seed, "init_std": init_std,
            "config": config, "inputs": names, "outputs": ["logits"],
            "onnx_ops": ops, "initializers": len(initializers),
            "nodes": len(model.graph.node), "cases": cases}
    log("%-6s opset %d: %d nodes, %d initializers, ops %s"
        % (family, opset, len(model.graph.node), len(initializers), " ".join(ops)))
    return info


def check_ort(out_dir, info, threads, log):
    import ort_peer
    ok = True
    model_path = os.path.join(out_dir, "model.onnx")
    for case in info["cases"]:
        feeds = dict(np.load(os.path.join(out_dir, case["inputs"])))
        want = np.load(os.path.join(out_dir, case["outputs"]))["logits"]
        got, report = ort_peer.run_ort_timed(model_path, feeds, threads=threads)
        err = scaled_error(got[0], want)
        case["ort_error"] = err
        case["ort_ms"] = report["median_ms"]
        good = err <= TOLERANCE
        ok &= good
        log("  %-6s opset %d %-8s ORT vs PyTorch: max scaled error %.2e  %s"
            % (info["family"], info["opset"], case["name"], err, "ok" if good else "FAIL"))
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output folder (created if needed)")
    ap.add_argument("--families", default=",".join(FAMILIES),
                    help="comma-separated subset of %s" % ",".join(FAMILIES))
    ap.add_argument("--opsets", default="14,17", help="comma-separated opsets (14-17)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init-std", type=float, default=0.3,
                    help="std of the random weights (default 0.3: logits of a "
                         "size that makes errors visible)")
    ap.add_argument("--no-ort", action="store_true",
                    help="skip the ONNX Runtime check (onnx.checker still runs)")
    ap.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads")
    ap.add_argument("--quiet", action="store_true", help="print only failures and the summary")
    sizes = ap.add_argument_group("sizes", "override the tiny configs (all families), e.g. "
                                  "for a bench: --layers 12 --hidden 768 --heads 12 "
                                  "--vocab 50257 --ctx 1024 --intermediate 3072")
    for name in ("layers", "hidden", "heads", "kv_heads", "vocab", "ctx", "intermediate"):
        sizes.add_argument("--" + name.replace("_", "-"), type=int, default=None)
    args = ap.parse_args(argv)
    overrides = {n: getattr(args, n) for n in
                 ("layers", "hidden", "heads", "kv_heads", "vocab", "ctx", "intermediate")}

    families = [f for f in args.families.split(",") if f]
    for f in families:
        if f not in FAMILIES:
            ap.error("unknown family %r" % f)
    try:
        opsets = [int(o) for o in args.opsets.split(",") if o]
    except ValueError:
        ap.error("--opsets takes integers")
    for o in opsets:
        if not 14 <= o <= 17:
            ap.error("opset %d: torch %s exports 14..17 here" % (o, torch.__version__))

    def log(line):
        if not args.quiet:
            print(line, flush=True)

    torch.manual_seed(args.seed)
    use_ort = not args.no_ort
    if use_ort:
        import ort_peer
        if not ort_peer.ort_available():
            print("export_onnx_models: error: ONNX Runtime is not installed; run "
                  "utils/ort/setup.sh, or pass --no-ort", file=sys.stderr)
            return 1

    ok = True
    os.makedirs(args.out, exist_ok=True)
    summary = []
    for family in families:
        for opset in opsets:
            out_dir = os.path.join(args.out, "%s-opset%d" % (family, opset))
            info = export_one(family, opset, out_dir, args.seed, args.init_std, log,
                              overrides)
            if use_ort:
                good = check_ort(out_dir, info, args.threads, log)
                ok &= good
                worst = max(c["ort_error"] for c in info["cases"])
                summary.append("%s-opset%d: ORT vs PyTorch max scaled error %.2e %s"
                               % (family, opset, worst, "ok" if good else "FAIL"))
            else:
                summary.append("%s-opset%d: exported (ORT not checked)" % (family, opset))
            with open(os.path.join(out_dir, "info.json"), "w") as f:
                json.dump(info, f, indent=1)
                f.write("\n")
    for line in summary:
        print(line)
    print("export_onnx_models: %d models in %s, %s"
          % (len(summary), args.out, "all checks passed" if ok else "CHECKS FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
