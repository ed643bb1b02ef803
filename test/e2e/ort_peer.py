"""ONNX Runtime as a peer, from Python: runs an ONNX model with
onnxruntime-node (utils/ort/ort_run.js) and returns its outputs as NumPy
arrays.

    from ort_peer import run_ort, run_ort_timed, ort_available
    outs = run_ort("model.onnx", {"input_ids": ids}, threads=1)   # list, output order
    outs, ms = run_ort_timed("model.onnx", feeds, threads=2, repeats=10)

The inputs are written as .npy files into a temporary folder, node runs the
model there, and the outputs are read back (the folder is removed). Needs
node and utils/ort/setup.sh (which installs the pinned onnxruntime-node into
utils/ort/node_modules); ort_available() says whether both are there, for
tests that skip without them.

As a script, a quick check or a timing:
    ort_peer.py MODEL.onnx NAME=FILE.npy ... [--threads N] [--repeats R]
prints the outputs' shapes, dtypes and the median time.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ORT_DIR = os.path.join(ROOT, "utils", "ort")
ORT_RUN = os.path.join(ORT_DIR, "ort_run.js")
NODE = os.environ.get("NODE", "node")


class OrtError(RuntimeError):
    """ort_run.js failed; the message carries its stderr."""


def ort_available():
    """True when node and the installed onnxruntime-node are there."""
    if shutil.which(NODE) is None:
        return False
    return subprocess.run(["bash", os.path.join(ORT_DIR, "setup.sh"), "--check"],
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def _safe_name(name, index):
    """A file name for input `name` (ORT matches by the stem, so the stem
    must be the name itself; refuse names that cannot be file names)."""
    if not name or "/" in name or "\0" in name or name in (".", ".."):
        raise ValueError("input #%d: name %r cannot be passed as a file" % (index, name))
    return name + ".npy"


def run_ort_timed(model_path, inputs, threads=1, repeats=1, warmup=None,
                  optimize=True, timeout=600):
    """Runs `model_path` on `inputs` (dict name -> array, every model input).
    Returns (outputs in the model's output order, report) where report is
    ort_run.js's JSON (median_ms, times_ms, load_ms, outputs, ...)."""
    if not os.path.isfile(model_path):
        raise FileNotFoundError(model_path)
    if not os.path.isfile(ORT_RUN):
        raise OrtError("%s is missing" % ORT_RUN)
    work = tempfile.mkdtemp(prefix="ort-peer-")
    try:
        in_dir = os.path.join(work, "in")
        out_dir = os.path.join(work, "out")
        os.mkdir(in_dir)
        for i, (name, value) in enumerate(inputs.items()):
            array = np.ascontiguousarray(value)
            if array.dtype.byteorder == ">":
                array = array.astype(array.dtype.newbyteorder("<"))
            np.save(os.path.join(in_dir, _safe_name(name, i)), array,
                    allow_pickle=False)
        cmd = [NODE, ORT_RUN, os.path.abspath(model_path), in_dir, out_dir,
               "--threads", str(threads), "--repeats", str(repeats)]
        if warmup is not None:
            cmd += ["--warmup", str(warmup)]
        if not optimize:
            cmd.append("--no-optimize")
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=timeout, text=True)
        except FileNotFoundError:
            raise OrtError("'%s' not found: install node (Debian: nodejs)" % NODE) from None
        except subprocess.TimeoutExpired:
            raise OrtError("ort_run.js timed out after %ss on %s" % (timeout, model_path)) from None
        if proc.returncode != 0:
            raise OrtError("ort_run.js failed (exit %d) on %s:\n%s"
                           % (proc.returncode, model_path, proc.stderr.strip()))
        try:
            report = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            raise OrtError("ort_run.js printed no JSON report:\n%s%s"
                           % (proc.stdout, proc.stderr)) from None
        outputs = []
        for spec in report["outputs"]:
            array = np.load(os.path.join(out_dir, spec["file"]), allow_pickle=False)
            outputs.append(array)
        return outputs, report
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_ort(model_path, inputs, threads=1):
    """The model's outputs (a list, in the model's output order) on
    `inputs` (dict name -> np.ndarray), computed by ONNX Runtime's CPU
    provider with `threads` intra-op threads."""
    return run_ort_timed(model_path, inputs, threads=threads)[0]


def _main(argv):
    import argparse
    parser = argparse.ArgumentParser(
        description="Run an ONNX model with ONNX Runtime (onnxruntime-node).")
    parser.add_argument("model")
    parser.add_argument("inputs", nargs="+", metavar="NAME=FILE.npy")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    feeds = {}
    for item in args.inputs:
        name, _, path = item.partition("=")
        if not path:
            parser.error("inputs are NAME=FILE.npy, got %r" % item)
        feeds[name] = np.load(path)
    outs, report = run_ort_timed(args.model, feeds, threads=args.threads,
                                 repeats=args.repeats)
    for spec, out in zip(report["outputs"], outs):
        print("%s: %s %s" % (spec["name"], out.dtype, list(out.shape)))
    print("median %.3f ms over %d runs (%d threads)"
          % (report["median_ms"], report["repeats"], report["threads"]))


if __name__ == "__main__":
    _main(sys.argv[1:])
