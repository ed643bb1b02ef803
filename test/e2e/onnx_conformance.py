"""The ONNX backend conformance cases of the ops llm-opt imports, compiled
by llm-compile and run through the artifact ABI.

Usage:
  onnx_conformance.py [--llm-compile PATH] [--data DIR] [--work DIR]
                      [--ops OP,...] [--cases PATTERN,...] [-j N]
                      [--timeout S] [--allow-ops OP,...] [--strict-opset]
                      [--list] [-v]

Cases: the node tests of libonnx-testdata (DIR/<case>/model.onnx and
test_data_set_N/{input,output}_K.pb, default
/usr/share/libonnx-testdata/data/node). A case belongs to an op when its
graph has a node of that op; only the cases of SUPPORTED_OPS (below) are
selected. A selected case is skipped, with the reason recorded, when

  - its graph also uses an op outside the list (the *_expanded cases mostly),
  - its opset is outside 13..17 (OPSET_MIN..OPSET_MAX) -- unless every op
    it uses has the same version at that opset and at 13, in which case the
    model is run with its opset import raised to 13 ("rebased": e.g. Not is
    unchanged since opset 1, ConstantOfShape since 9, Range since 11);
    --strict-opset turns rebasing off,
  - a graph input or output is not a tensor (sequence, optional), or has an
    element type the artifact ABI cannot carry (string, uint8, int8, ...;
    docs/ABI.md), or is bfloat16 (no NumPy dtype for the harness),
  - it has no test data.

Everything else runs, and a case the importer cannot handle yet is a
failure, not a skip. Each case: `llm-compile model.onnx -o ART` (with a
timeout), where graph inputs that decide result ranks or slicing
(Squeeze/Unsqueeze axes, Slice starts/ends/axes/steps, Split sizes), which
the importer needs as constants, are frozen to the case's data with
`--freeze-input NAME=input_K.pb` (the report lists those cases; Reshape,
Expand and ConstantOfShape shapes stay runtime inputs); the graph inputs are bound by name from the .pb files and the
params (kind "param" in ART/manifest.json) from ART/model.safetensors; the
entry point `forward` is called through test/e2e/llm_artifact.py in a child
process (a crash fails one case, not the run); results are compared, in
order, with the graph's outputs: shapes and dtypes must match; f32/f64 within
max |got - want| <= 1e-4 * max(1, max |want|) (f16: 1e-3), NaN and inf in the
same places; integers and bool exactly.

Output: one line per op, `OP: P passed, F failed, S skipped` (a case with
several listed ops counts under each), every skipped case with its reason,
every failure with its error, then `total: P passed, F failed, S skipped`
over distinct cases. Exit status 1 when any case that ran failed.

--list prints the selection (per op, each case with "run", "run (rebased
...)" or "skip: reason") without compiling anything; it needs neither
llm-compile nor a build.
"""

import argparse
import concurrent.futures
import fnmatch
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_DATA = "/usr/share/libonnx-testdata/data/node"

# The ops the ONNX importer (lib/Target/ONNX) supports.
SUPPORTED_OPS = (
    "MatMul Gemm Softmax LayerNormalization Erf Where Transpose Reshape Gather "
    "Concat Slice Split Trilu ReduceMean Pow Sqrt Tanh Expand Cast Range Add "
    "Sub Mul Div Neg Unsqueeze Squeeze Shape Equal Not ConstantOfShape "
    "Identity LogSoftmax").split()
OPSET_MIN, OPSET_MAX = 13, 17
TOLERANCE = {"float32": 1e-4, "float64": 1e-4, "float16": 1e-3}

# TensorProto element types -> (NumPy dtype name, carried by the harness)
_ELEM = {
    1: ("float32", True), 2: ("uint8", False), 3: ("int8", False),
    4: ("uint16", False), 5: ("int16", False), 6: ("int32", True),
    7: ("int64", True), 8: ("string", False), 9: ("bool", True),
    10: ("float16", True), 11: ("float64", True), 12: ("uint32", False),
    13: ("uint64", False), 14: ("complex64", False), 15: ("complex128", False),
    16: ("bfloat16", False),
}
# The manifest's dtype spellings (docs/ABI.md; bool and f64 as
# llm_artifact.py reads them).
_MANIFEST_DTYPES = {"f32": "float32", "f64": "float64", "f16": "float16",
                    "i64": "int64", "i32": "int32", "bool": "bool"}


# ---------------------------------------------------------------------------
# Selection (needs onnx, not llm-compile)


class Case:
    def __init__(self, name, folder):
        self.name = name
        self.folder = folder
        self.ops = []           # the supported ops it belongs to
        self.skip = None        # the reason, when skipped
        self.rebase = None      # (from opset, to opset) when rebased
        self.data_sets = []     # test_data_set_N folders
        self.input_names = []   # graph inputs that are not initializers
        self.output_names = []
        self.result = None      # ("pass" | "fail", message)
        self.frozen = []        # graph inputs frozen into constants

    def status(self):
        if self.skip:
            return "skip: " + self.skip
        if self.rebase:
            return "run (rebased from opset %d to %d: same op versions)" % self.rebase
        return "run"


def _matches(name, patterns):
    for p in patterns:
        if any(c in p for c in "*?["):
            if fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(name, "test_" + p):
                return True
        elif p in name:
            return True
    return False


def _value_info_problem(vi, what):
    """Why graph input/output `vi` cannot go through the harness, or None."""
    kind = vi.type.WhichOneof("value")
    if kind != "tensor_type":
        kind = (kind or "unknown").replace("_type", "")
        return "%s '%s' is %s %s, not a tensor" % (
            what, vi.name, "an" if kind[0] in "aeiou" else "a", kind)
    elem = vi.type.tensor_type.elem_type
    name, carried = _ELEM.get(elem, ("type %d" % elem, False))
    if not carried:
        why = ("no NumPy dtype for the harness" if name == "bfloat16"
               else "not an artifact ABI dtype")
        return "%s '%s' is %s (%s)" % (what, vi.name, name, why)
    return None


def _opset_problem(model, ops):
    """(skip reason or None, rebase (from, to) or None) for the model's
    default-domain opset."""
    import onnx.defs
    version = None
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            version = imp.version
    if version is None:
        return "no default-domain opset import", None
    if OPSET_MIN <= version <= OPSET_MAX:
        return None, None
    changed = []
    for op in sorted(ops):
        try:
            old = onnx.defs.get_schema(op, version, "").since_version
            new = onnx.defs.get_schema(op, OPSET_MIN, "").since_version
        except onnx.defs.SchemaError:
            changed.append(op)
            continue
        if old != new:
            changed.append(op)
    if changed or version > OPSET_MAX:
        detail = ("; %s changed by opset %d" % (", ".join(changed), OPSET_MIN)
                  if changed else "")
        return "opset %d outside %d..%d%s" % (version, OPSET_MIN, OPSET_MAX, detail), None
    return None, (version, OPSET_MIN)


def select_cases(data_dir, ops=None, patterns=None, allow_ops=(), rebase=True):
    """The cases of `ops` (default: SUPPORTED_OPS) under data_dir, filtered
    by `patterns`, each with .ops and .skip / .rebase decided. Returns
    (cases, {op: [cases]})."""
    import onnx
    supported = set(SUPPORTED_OPS) | set(allow_ops)
    wanted = set(ops) if ops else set(SUPPORTED_OPS)
    cases = []
    by_op = {op: [] for op in sorted(wanted)}
    for name in sorted(os.listdir(data_dir)):
        folder = os.path.join(data_dir, name)
        model_path = os.path.join(folder, "model.onnx")
        if not os.path.isfile(model_path):
            continue
        if patterns and not _matches(name, patterns):
            continue
        try:
            model = onnx.load(model_path, load_external_data=False)
        except Exception as e:  # cannot tell its ops: say so, go on
            print("onnx_conformance: warning: %s: cannot read model.onnx: %s" % (name, e),
                  file=sys.stderr)
            continue
        node_ops = {(n.domain or "", n.op_type) for n in model.graph.node}
        default_ops = {op for dom, op in node_ops if dom in ("", "ai.onnx")}
        mine = sorted(default_ops & wanted)
        if not mine:
            continue
        case = Case(name, folder)
        case.ops = mine
        outside = sorted(op if dom in ("", "ai.onnx") else "%s:%s" % (dom, op)
                         for dom, op in node_ops
                         if dom not in ("", "ai.onnx") or op not in supported)
        inits = {i.name for i in model.graph.initializer}
        case.input_names = [i.name for i in model.graph.input if i.name not in inits]
        case.output_names = [o.name for o in model.graph.output]
        case.data_sets = sorted(
            os.path.join(folder, d) for d in os.listdir(folder)
            if d.startswith("test_data_set_") and os.path.isdir(os.path.join(folder, d)))
        if outside:
            case.skip = "uses ops outside the list: " + ", ".join(outside)
        else:
            reason, rebased = _opset_problem(model, default_ops)
            if reason:
                case.skip = reason
            elif rebased and not rebase:
                case.skip = ("opset %d outside %d..%d (same op versions; "
                             "runs without --strict-opset)" % (rebased[0], OPSET_MIN, OPSET_MAX))
            else:
                case.rebase = rebased
        if not case.skip:
            ios = ([(vi, "input") for vi in model.graph.input if vi.name not in inits]
                   + [(vi, "output") for vi in model.graph.output])
            for vi, what in ios:
                problem = _value_info_problem(vi, what)
                if problem:
                    case.skip = problem
                    break
        if not case.skip and not case.data_sets:
            case.skip = "no test_data_set_N folder"
        cases.append(case)
        for op in mine:
            by_op[op].append(case)
    return cases, by_op


def print_list(by_op, show_empty=True, out=sys.stdout):
    for op, cases in by_op.items():
        if not cases and not show_empty:
            continue
        run = sum(1 for c in cases if not c.skip)
        print("%s: %d cases, %d to run, %d skipped" % (op, len(cases), run, len(cases) - run), file=out)
        for c in cases:
            print("  %s: %s" % (c.name, c.status()), file=out)


# ---------------------------------------------------------------------------
# Running one case


def _read_tensor(path):
    import onnx
    from onnx import numpy_helper
    return numpy_helper.to_array(onnx.load_tensor(path))


def _shorten(text, model_path, limit=300):
    """The first error line of a diagnostic (model path shortened), with a
    count of the lines left out."""
    lines = [l.rstrip() for l in text.strip().splitlines() if l.strip()]
    if not lines:
        return "(no output)"
    first = next((i for i, l in enumerate(lines) if "error" in l.lower()), 0)
    line = lines[first].replace(model_path, os.path.basename(model_path))
    if len(line) > limit:
        line = line[:limit] + "..."
    rest = len(lines) - 1
    return line + (" (+%d more lines)" % rest if rest else "")


def compare(got, want):
    """None when `got` matches `want`, else why not."""
    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        return "shape %s, expected %s" % (list(got.shape), list(want.shape))
    if got.dtype != want.dtype:
        return "dtype %s, expected %s" % (got.dtype, want.dtype)
    if want.dtype.name in TOLERANCE:
        g = got.astype(np.float64)
        w = want.astype(np.float64)
        finite = np.isfinite(w)
        if not np.array_equal(np.isnan(g), np.isnan(w)) or \
                not np.array_equal(g[np.isinf(w)], w[np.isinf(w)]) or \
                not np.all(np.isfinite(g[finite])):
            return "NaN/inf in different places"
        if not finite.any():
            return None
        scale = max(1.0, float(np.max(np.abs(w[finite]))))
        err = float(np.max(np.abs(g[finite] - w[finite]))) / scale
        if err > TOLERANCE[want.dtype.name]:
            return "max scaled error %.3g > %g" % (err, TOLERANCE[want.dtype.name])
        return None
    if not np.array_equal(got, want):
        bad = int(np.sum(got != want))
        return "%d of %d elements differ" % (bad, want.size)
    return None


def _run(cmd, timeout):
    """(exit status, stdout + stderr) of `cmd`; on a timeout, kills its whole
    process group (the compiler's children too) and raises TimeoutExpired."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        raise
    return proc.returncode, out.decode("utf-8", errors="replace")


# Node inputs that decide the result's shape, by op type.
STRUCTURAL_INPUTS = {"Unsqueeze": [1], "Squeeze": [1], "Slice": [1, 2, 3, 4], "Split": [1]}


def structural_inputs(model, input_names):
    """The graph inputs (among `input_names`) that feed a shape-deciding node
    input, in graph input order."""
    wanted = set()
    for node in model.graph.node:
        for i in STRUCTURAL_INPUTS.get(node.op_type, []):
            if i < len(node.input) and node.input[i] in input_names:
                wanted.add(node.input[i])
    return [n for n in input_names if n in wanted]


def run_case(case, llm_compile, work, timeout, compile_args=()):
    """Compiles and runs `case`; sets case.result."""
    import onnx
    folder = os.path.join(work, case.name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    model_path = os.path.join(case.folder, "model.onnx")
    model = onnx.load(model_path)
    if case.rebase:
        for imp in model.opset_import:
            if imp.domain in ("", "ai.onnx"):
                imp.version = case.rebase[1]
        model_path = os.path.join(folder, "model.onnx")
        onnx.save(model, model_path)
    art = os.path.join(folder, "art")
    cmd = [llm_compile, model_path, "-o", art, *compile_args]
    # Shape-deciding inputs are compile-time constants: the first data set's
    # values, which every data set must share.
    case.frozen = structural_inputs(model, case.input_names)
    for name in case.frozen:
        k = case.input_names.index(name)
        first = os.path.join(case.data_sets[0], "input_%d.pb" % k)
        with open(first, "rb") as f:
            data = f.read()
        for other in case.data_sets[1:]:
            with open(os.path.join(other, "input_%d.pb" % k), "rb") as f:
                if f.read() != data:
                    case.result = ("fail", "input '%s' decides shapes and differs between data "
                                           "sets (one compile cannot serve them)" % name)
                    return
        cmd += ["--freeze-input", "%s=%s" % (name, first)]
    try:
        rc, output = _run(cmd, timeout)
    except subprocess.TimeoutExpired:
        case.result = ("fail", "compile: timed out after %ds" % timeout)
        return
    except OSError as e:
        case.result = ("fail", "compile: cannot run %s: %s" % (llm_compile, e))
        return
    if rc != 0:
        case.result = ("fail", "compile: " + (_shorten(output, model_path) if rc > 0 else
                                              "crashed (signal %d): %s" % (-rc, _shorten(output, model_path))))
        return

    for data_set in case.data_sets:
        label = "" if len(case.data_sets) == 1 else os.path.basename(data_set) + ": "
        try:
            inputs = {}
            for i, name in enumerate(case.input_names):
                if name in case.frozen:
                    continue
                path = os.path.join(data_set, "input_%d.pb" % i)
                if os.path.isfile(path):
                    inputs[name] = _read_tensor(path)
            wants = []
            for i in range(len(case.output_names)):
                wants.append(_read_tensor(os.path.join(data_set, "output_%d.pb" % i)))
        except Exception as e:
            case.result = ("fail", "%sreading the test data: %s" % (label, e))
            return
        in_npz = os.path.join(folder, "inputs.npz")
        out_npz = os.path.join(folder, "results.npz")
        np.savez(in_npz, **{"i%d" % k: v for k, v in enumerate(inputs.values())})
        with open(os.path.join(folder, "inputs.json"), "w") as f:
            json.dump(list(inputs.keys()), f)
        child = [sys.executable, os.path.abspath(__file__), "--run-artifact",
                 art, in_npz, os.path.join(folder, "inputs.json"), out_npz]
        try:
            rc, output = _run(child, timeout)
        except subprocess.TimeoutExpired:
            case.result = ("fail", "%srun: timed out after %ds" % (label, timeout))
            return
        if rc < 0:
            case.result = ("fail", "%srun: crashed (signal %d)%s"
                           % (label, -rc, ": " + _shorten(output, art) if output.strip() else ""))
            return
        if rc != 0:
            case.result = ("fail", "%srun: %s" % (label, _shorten(output, art)))
            return
        with np.load(out_npz) as results:
            gots = [results["r%d" % k] for k in range(len(results.files))]
        if len(gots) != len(wants):
            case.result = ("fail", "%s%d results, the graph has %d outputs"
                           % (label, len(gots), len(wants)))
            return
        for k, (got, want) in enumerate(zip(gots, wants)):
            problem = compare(got, want)
            if problem:
                case.result = ("fail", "%soutput %d ('%s'): %s"
                               % (label, k, case.output_names[k], problem))
                return
    case.result = ("pass", "")


# ---------------------------------------------------------------------------
# The child: binds and calls one artifact


def read_safetensors(path):
    """name -> np.ndarray (F32/F64/F16/I64/I32/I16/I8/U8/BOOL; BF16 as
    float32)."""
    dtypes = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4",
              "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?", "BF16": "<u2"}
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n])
    header.pop("__metadata__", None)
    data = memoryview(buf)[8 + n:]
    out = {}
    for name, info in header.items():
        if info["dtype"] not in dtypes:
            raise ValueError("%s: %s: unsupported dtype %s" % (path, name, info["dtype"]))
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=dtypes[info["dtype"]])
        if info["dtype"] == "BF16":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        out[name] = array.reshape(info["shape"]).copy()
    return out


def run_artifact(art_dir, in_npz, names_json, out_npz):
    """Child process: binds the graph inputs (by name) and the params (from
    model.safetensors), calls `forward`, saves the results as r0, r1, ..."""
    sys.path.insert(0, HERE)
    import llm_artifact
    with open(names_json) as f:
        names = json.load(f)
    with np.load(in_npz) as z:
        given = {name: z["i%d" % k] for k, name in enumerate(names)}
    artifact = llm_artifact.Artifact(art_dir)
    if "forward" not in artifact.entries:
        raise SystemExit("error: the manifest has no entry point 'forward' (has %s)"
                         % ", ".join(artifact.entries))
    entry = artifact.entries["forward"]
    params = None
    args = []
    used = set()
    for spec in entry["inputs"]:
        name, dtype = spec["name"], spec["dtype"]
        if spec.get("kind") == "param":
            if params is None:
                path = os.path.join(art_dir, "model.safetensors")
                if not os.path.isfile(path):
                    raise SystemExit("error: the manifest has params but %s is missing" % path)
                params = read_safetensors(path)
            try:
                value = llm_artifact.param_array(spec, params)
            except KeyError as e:
                raise SystemExit("error: param %s is not in model.safetensors" % e)
        else:
            if name not in given:
                raise SystemExit("error: manifest input '%s' (kind %s) is not a graph input "
                                 "with test data (graph inputs: %s)"
                                 % (name, spec.get("kind"), ", ".join(given) or "none"))
            value = given[name]
            used.add(name)
        if _MANIFEST_DTYPES.get(dtype) != value.dtype.name:
            raise SystemExit("error: input '%s': manifest dtype %s, the data is %s"
                             % (name, dtype, value.dtype))
        shape = spec["shape"]
        if len(shape) != value.ndim or any(d not in (-1, v) for d, v in zip(shape, value.shape)):
            raise SystemExit("error: input '%s': manifest shape %s, the data is %s"
                             % (name, shape, list(value.shape)))
        args.append(value)
    unused = [n for n in given if n not in used]
    if unused:
        raise SystemExit("error: graph inputs missing from the manifest: %s" % ", ".join(unused))
    results = artifact.call("forward", *args)
    if len(entry["results"]) == 1:
        results = [results]
    np.savez(out_npz, **{"r%d" % k: r for k, r in enumerate(results)})


# ---------------------------------------------------------------------------


def find_llm_compile(given):
    if given:
        return given
    for build in ("build", "build-lead"):
        path = os.path.join(ROOT, build, "bin", "llm-compile")
        if os.path.isfile(path):
            return path
    return shutil.which("llm-compile") or "llm-compile"


def report(cases, by_op, show_empty=True, out=sys.stdout):
    """Prints the per-op lines, the skips, the failures and the total;
    returns the number of failures."""
    def counts(cs):
        p = sum(1 for c in cs if c.result and c.result[0] == "pass")
        f = sum(1 for c in cs if c.result and c.result[0] == "fail")
        s = sum(1 for c in cs if c.skip)
        return p, f, s
    for op, cs in by_op.items():
        if not cs and not show_empty:
            continue
        print("%s: %d passed, %d failed, %d skipped" % ((op,) + counts(cs)), file=out)
    skipped = [c for c in cases if c.skip]
    if skipped:
        print("skipped:", file=out)
        for c in skipped:
            print("  %s [%s]: %s" % (c.name, ",".join(c.ops), c.skip), file=out)
    failed = [c for c in cases if c.result and c.result[0] == "fail"]
    if failed:
        print("failed:", file=out)
        for c in failed:
            print("  %s [%s]: %s" % (c.name, ",".join(c.ops), c.result[1]), file=out)
    frozen = [c for c in cases if c.frozen and c.result]
    if frozen:
        print("frozen shape inputs (compiled as constants):", file=out)
        for c in frozen:
            print("  %s: %s" % (c.name, ", ".join(c.frozen)), file=out)
    p, f, s = counts(cases)
    print("total: %d passed, %d failed, %d skipped" % (p, f, s), file=out)
    return f


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llm-compile", help="llm-compile to test (default: build/bin/llm-compile, "
                    "else PATH)")
    ap.add_argument("--data", default=DEFAULT_DATA, help="the node cases (default %(default)s)")
    ap.add_argument("--work", help="work folder (default: a temporary one, removed)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary work folder")
    ap.add_argument("--ops", help="only these ops (comma-separated)")
    ap.add_argument("--cases", help="only cases matching these (comma-separated; globs, "
                    "or substrings without wildcards)")
    ap.add_argument("--allow-ops", default="",
                    help="ops that count as supported although not in the list (e.g. "
                         "Constant); their cases are not selected for them")
    ap.add_argument("--strict-opset", action="store_true",
                    help="skip cases outside opset 13..17 even when their ops are unchanged")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="cases in parallel (default 2)")
    ap.add_argument("--timeout", type=int, default=60,
                    help="seconds for each compile and each run (default 60)")
    ap.add_argument("--compile-arg", action="append", default=[],
                    help="an extra llm-compile argument (repeatable), e.g. --compile-arg=-O0")
    ap.add_argument("--list", action="store_true",
                    help="print the selection and the skip reasons, compile nothing")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print each case as it finishes (stderr)")
    ap.add_argument("--run-artifact", nargs=4, metavar=("ART", "IN", "NAMES", "OUT"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.run_artifact:
        run_artifact(*args.run_artifact)
        return 0

    if not os.path.isdir(args.data):
        print("onnx_conformance: error: no ONNX node cases in %s (Debian: libonnx-testdata)"
              % args.data, file=sys.stderr)
        return 2
    ops = [o for o in (args.ops or "").split(",") if o]
    unknown = [o for o in ops if o not in SUPPORTED_OPS]
    if unknown:
        ap.error("not in the supported list: %s" % ", ".join(unknown))
    patterns = [p for p in (args.cases or "").split(",") if p]
    allow = [o for o in args.allow_ops.split(",") if o]
    cases, by_op = select_cases(args.data, ops, patterns, allow, rebase=not args.strict_opset)
    if not cases:
        print("onnx_conformance: error: no case selected", file=sys.stderr)
        return 2
    if args.list:
        print_list(by_op, show_empty=bool(ops) or not patterns)
        run = sum(1 for c in cases if not c.skip)
        print("selected: %d cases, %d to run, %d skipped" % (len(cases), run, len(cases) - run))
        return 0

    llm_compile = find_llm_compile(args.llm_compile)
    work = args.work or tempfile.mkdtemp(prefix="onnx-conformance-")
    os.makedirs(work, exist_ok=True)
    to_run = [c for c in cases if not c.skip]
    print("onnx conformance: %d cases of %d ops (%d to run, %d skipped), %s, -j %d"
          % (len(cases), sum(1 for v in by_op.values() if v), len(to_run), len(cases) - len(to_run),
             llm_compile, args.jobs), flush=True)
    start = time.time()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = {pool.submit(run_case, c, llm_compile, work, args.timeout,
                                   args.compile_arg): c for c in to_run}
            for fut in concurrent.futures.as_completed(futures):
                case = futures[fut]
                try:
                    fut.result()
                except Exception as e:  # a harness bug: report, do not hide
                    case.result = ("fail", "harness: %s: %s" % (type(e).__name__, e))
                if args.verbose:
                    print("  %-55s %s %s" % (case.name, case.result[0], case.result[1]),
                          file=sys.stderr, flush=True)
    finally:
        if not args.work and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        elif not args.work:
            print("work folder kept: %s" % work, file=sys.stderr)
    failures = report(cases, by_op, show_empty=bool(ops) or not patterns)
    print("(%.1f s)" % (time.time() - start))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
