"""Calls a compiled llm-opt artifact from Python, for the numerics tests.

Loads DIR/manifest.json and DIR/libmodel.so, builds the memref descriptors of
docs/ABI.md with ctypes from NumPy arrays, calls llm_<name>(void **args), and
returns the results as NumPy arrays (copied, then the callee's buffers are
freed). Independent of the C++ runtime on purpose: the tests of the compiler
must not depend on the code that is tested elsewhere.
"""

import ctypes
import json
import os
import subprocess

import numpy as np

_DTYPES = {
    "f32": np.float32,
    "f64": np.float64,
    "f16": np.float16,
    "i64": np.int64,
    "i32": np.int32,
    "bool": np.bool_,
    "u8": np.uint8,
}

_libc = ctypes.CDLL(None)
_libc.free.argtypes = [ctypes.c_void_p]


def _descriptor_type(rank):
    fields = [
        ("allocated", ctypes.c_void_p),
        ("aligned", ctypes.c_void_p),
        ("offset", ctypes.c_int64),
    ]
    if rank:
        fields += [
            ("sizes", ctypes.c_int64 * rank),
            ("strides", ctypes.c_int64 * rank),
        ]
    return type("MemRef%dD" % rank, (ctypes.Structure,), {"_fields_": fields})


def _descriptor_for(array):
    array = np.ascontiguousarray(array)
    desc = _descriptor_type(array.ndim)()
    pointer = array.ctypes.data_as(ctypes.c_void_p)
    desc.allocated = pointer
    desc.aligned = pointer
    desc.offset = 0
    for i, (size, stride) in enumerate(zip(array.shape, array.strides)):
        desc.sizes[i] = size
        desc.strides[i] = stride // array.itemsize
    return desc, array


def pack_param(array, packing):
    """The panel-major order of a packed param (docs/ABI.md): [N, K] (or
    [K, N] for in_out) -> [ceil(N / P), K, P], zero-padded."""
    panel = packing["panel"]
    w = array.T if packing["layout"] == "in_out" else array
    n, k = w.shape
    panels = -(-n // panel)
    padded = np.zeros((panels * panel, k), dtype=array.dtype)
    padded[:n] = w
    return np.ascontiguousarray(
        padded.reshape(panels, panel, k).transpose(0, 2, 1))


def param_array(spec, tensors, convert=np.asarray):
    """The value of param input `spec` from `tensors`, checkpoint tensors
    by name (a dict, a safetensors file), each passed through `convert`
    (e.g. lambda t: t.float().numpy() for torch tensors): tensors[name], or
    for a concatenated param (spec["concat"], docs/ABI.md) its parts joined
    along the axis. In checkpoint layout: prepare() packs it if need be."""
    concat = spec.get("concat")
    if concat is None:
        return convert(tensors[spec["name"]])
    return np.concatenate([np.asarray(convert(tensors[part["name"]]))
                           for part in concat["parts"]], axis=concat["axis"])


class Artifact:
    def __init__(self, folder):
        with open(os.path.join(folder, "manifest.json")) as f:
            self.manifest = json.load(f)
        self.lib = ctypes.CDLL(os.path.join(folder, self.manifest["library"]))
        assert self.lib.llm_abi_version() == 2
        self.entries = {e["name"]: e for e in self.manifest["entry_points"]}
        # An entry point's arena (llm-plan-memory; docs/ABI.md) is not the
        # caller's business here: it is hidden from the inputs and made, for
        # the batch of the call, by bind().
        for entry in self.entries.values():
            if entry["inputs"] and entry["inputs"][-1]["kind"] == "arena":
                entry["inputs"] = entry["inputs"][:-1]
                entry["arena_sizes"] = entry["arena"]

    def set_threads(self, n):
        self.lib.llm_set_num_threads(ctypes.c_int32(n))

    def prepare(self, name, *inputs):
        """The inputs as the entry point takes them: converted to its
        dtypes, packed params packed. A param is passed in checkpoint
        layout, concatenated ones concatenated (param_array). Pass the
        result to call(..., prepared=True) to time calls without the
        packing."""
        entry = self.entries[name]
        if len(inputs) != len(entry["inputs"]):
            raise ValueError("%s takes %d inputs" % (name, len(entry["inputs"])))
        arrays = []
        for value, spec in zip(inputs, entry["inputs"]):
            array = np.asarray(value, dtype=_DTYPES[spec["dtype"]])
            if array.ndim != len(spec["shape"]):
                raise ValueError("%s: rank %d, expected %d"
                                 % (spec["name"], array.ndim, len(spec["shape"])))
            if "packing" in spec:
                array = pack_param(array, spec["packing"])
            arrays.append(array)
        return arrays

    def call(self, name, *inputs, prepared=False):
        return self.bind(name, *inputs, prepared=prepared)()

    def bind(self, name, *inputs, prepared=False):
        """A callable that runs entry point `name` on `inputs` each time it
        is called, with the argument array built once: the caller may change
        the inputs' contents (not their shapes) between calls, e.g. the
        token and position of a decode step. Keeps the arrays alive."""
        entry = self.entries[name]
        if not prepared:
            inputs = self.prepare(name, *inputs)
        inputs = list(inputs)
        if "arena_sizes" in entry:
            inputs.append(self._arena(entry, inputs))
        keep = []
        pointers = []
        for array in inputs:
            desc, array = _descriptor_for(array)
            keep.append((desc, array))
            pointers.append(ctypes.cast(ctypes.pointer(desc), ctypes.c_void_p))
        results = []
        for spec in entry["results"]:
            desc = _descriptor_type(len(spec["shape"]))()
            results.append((desc, spec))
            pointers.append(ctypes.cast(ctypes.pointer(desc), ctypes.c_void_p))
        args = (ctypes.c_void_p * len(pointers))(*pointers)
        function = getattr(self.lib, entry["symbol"])
        # Results in the arena (its `allocated` pointer) are not freed.
        arena = keep[-1][0].allocated if "arena_sizes" in entry else None
        return lambda: self._run(entry, function, args, results, keep, arena)

    @staticmethod
    def _arena(entry, inputs):
        """A 64-byte aligned arena for the batch of `inputs` (dim 0 of the
        first runtime input)."""
        batch = next(a.shape[0] for a, spec in zip(inputs, entry["inputs"])
                     if spec["kind"] != "param" and np.ndim(a) > 0)
        sizes = entry["arena_sizes"]
        size = sizes["fixed_bytes"] + batch * sizes["bytes_per_sequence"]
        raw = np.empty(size + 64, dtype=np.uint8)
        start = -raw.ctypes.data % 64
        return raw[start:start + size]

    @staticmethod
    def _run(entry, function, args, results, keep, arena):
        status = function(args)
        if status != 0:
            raise RuntimeError("%s returned %d" % (entry["symbol"], status))
        outputs = []
        freed = set()
        for desc, spec in results:
            rank = len(spec["shape"])
            shape = [desc.sizes[i] for i in range(rank)]
            strides = [desc.strides[i] for i in range(rank)]
            dtype = np.dtype(_DTYPES[spec["dtype"]])
            count = int(np.prod(shape)) if rank else 1
            # Read through the descriptor's strides, then copy out (once).
            byte_strides = [s * dtype.itemsize for s in strides]
            if count:
                span = sum((n - 1) * s for n, s in zip(shape, byte_strides)) + dtype.itemsize
                raw = (ctypes.c_char * span).from_address(
                    desc.aligned + desc.offset * dtype.itemsize)
                view = np.lib.stride_tricks.as_strided(
                    np.frombuffer(raw, dtype=dtype), shape=shape, strides=byte_strides)
                outputs.append(np.array(view))
            else:
                outputs.append(np.zeros(shape, dtype=dtype))
            # Results may share one allocation: free each distinct one once.
            if (desc.allocated and desc.allocated != arena
                    and desc.allocated not in freed):
                freed.add(desc.allocated)
                _libc.free(desc.allocated)
        return outputs[0] if len(outputs) == 1 else outputs


def compile_mlir(llm_compile, mlir_text, folder, extra_args=()):
    """Writes mlir_text next to folder and compiles it into folder."""
    source = folder.rstrip("/") + ".mlir"
    with open(source, "w") as f:
        f.write(mlir_text)
    subprocess.run([llm_compile, source, "-o", folder, *extra_args], check=True,
                   stdout=subprocess.DEVNULL)
    return Artifact(folder)


def max_scaled_error(got, want):
    """max |got - want| / max(1, max |want|): the tests' error measure."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        raise ValueError("shape %s, expected %s" % (got.shape, want.shape))
    if want.size == 0:
        return 0.0
    scale = max(1.0, float(np.max(np.abs(want))))
    return float(np.max(np.abs(got - want))) / scale
