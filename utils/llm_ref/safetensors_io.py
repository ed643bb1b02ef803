"""Minimal, dependency-free reader/writer for the safetensors format.

Only torch and numpy are used (the `safetensors` package is not available).

File layout (https://github.com/huggingface/safetensors):

    [8 bytes]  N, unsigned little-endian 64-bit: byte length of the header
    [N bytes]  UTF-8 JSON object, right-padded with spaces (0x20) so that
               8 + N is a multiple of 8:
                 {"__metadata__": {"k": "v", ...},          (optional, str->str)
                  "<tensor name>": {"dtype": "F32",
                                    "shape": [d0, d1, ...],
                                    "data_offsets": [begin, end]}, ...}
    [rest]     the byte buffer; data_offsets are relative to its start. The
               tensors are stored little-endian, row-major (C order), packed
               back to back without gaps, and together cover the whole buffer.

Supported dtypes: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL.
BF16 is written as its raw 16-bit pattern (the upper half of the fp32 bits)
and is read back into a torch.bfloat16 tensor.

Sharded checkpoints (as written by `save_pretrained(max_shard_size=...)`) are a
set of `model-0000i-of-0000N.safetensors` files plus
`model.safetensors.index.json` = {"metadata": {"total_size": <bytes>},
"weight_map": {"<tensor name>": "<shard file name>"}}.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Union

import numpy as np
import torch

__all__ = [
    "save_file",
    "load_file",
    "read_header",
    "load_metadata",
    "save_sharded",
    "load_sharded",
    "load_checkpoint_dir",
    "SINGLE_FILE_NAME",
    "INDEX_FILE_NAME",
]

SINGLE_FILE_NAME = "model.safetensors"
INDEX_FILE_NAME = "model.safetensors.index.json"

# tag -> (torch dtype, numpy dtype used for the raw bytes, item size)
# BF16 has no numpy dtype: its raw bits travel as little-endian uint16.
_TAGS = OrderedDict(
    [
        ("F64", (torch.float64, np.dtype("<f8"), 8)),
        ("F32", (torch.float32, np.dtype("<f4"), 4)),
        ("F16", (torch.float16, np.dtype("<f2"), 2)),
        ("BF16", (torch.bfloat16, np.dtype("<u2"), 2)),
        ("I64", (torch.int64, np.dtype("<i8"), 8)),
        ("I32", (torch.int32, np.dtype("<i4"), 4)),
        ("I16", (torch.int16, np.dtype("<i2"), 2)),
        ("I8", (torch.int8, np.dtype("i1"), 1)),
        ("U8", (torch.uint8, np.dtype("u1"), 1)),
        ("BOOL", (torch.bool, np.dtype("?"), 1)),
    ]
)
_TORCH_TO_TAG = {v[0]: k for k, v in _TAGS.items()}
_NUMPY_TO_TAG = {
    np.dtype(np.float64): "F64",
    np.dtype(np.float32): "F32",
    np.dtype(np.float16): "F16",
    np.dtype(np.int64): "I64",
    np.dtype(np.int32): "I32",
    np.dtype(np.int16): "I16",
    np.dtype(np.int8): "I8",
    np.dtype(np.uint8): "U8",
    np.dtype(np.bool_): "BOOL",
}
# The reference (Rust) implementation orders tensors in the buffer by dtype
# (its enum order, descending) and then by name; we do the same so that our
# files are laid out like the ones Hugging Face writes.
_RUST_DTYPE_ORDER = ["BOOL", "U8", "I8", "I16", "F16", "BF16", "I32", "F32", "F64", "I64"]

# Upper bound on the JSON header (the reference implementation uses 100 MB).
_MAX_HEADER = 100_000_000

TensorLike = Union[torch.Tensor, np.ndarray]


class SafetensorsError(ValueError):
    pass


def _to_tag_and_bytes(name: str, value: TensorLike):
    """Return (dtype tag, shape list, little-endian bytes) for one tensor."""
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        if t.dtype not in _TORCH_TO_TAG:
            raise SafetensorsError(f"{name}: unsupported torch dtype {t.dtype}")
        tag = _TORCH_TO_TAG[t.dtype]
        shape = list(t.shape)
        if tag == "BF16":
            arr = t.view(torch.int16).numpy().view(np.uint16)
        else:
            arr = t.numpy()
    elif isinstance(value, np.ndarray):
        key = np.dtype(value.dtype.type)  # ignores byte order; astype below fixes it
        if key not in _NUMPY_TO_TAG:
            raise SafetensorsError(f"{name}: unsupported numpy dtype {value.dtype}")
        tag = _NUMPY_TO_TAG[key]
        arr = np.ascontiguousarray(value)
        shape = list(arr.shape)
    else:
        raise SafetensorsError(f"{name}: expected torch.Tensor or np.ndarray, got {type(value)}")
    np_dtype = _TAGS[tag][1]
    arr = np.ascontiguousarray(arr.astype(np_dtype, copy=False))  # force little-endian
    return tag, shape, arr.tobytes(order="C")


def _serialize(tensors: Mapping[str, TensorLike], metadata: Optional[Mapping[str, str]]):
    """Return (header bytes incl. the 8-byte prefix, list of data chunks)."""
    entries = []
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise SafetensorsError(f"tensor names must be str, got {name!r}")
        if name == "__metadata__":
            raise SafetensorsError("'__metadata__' is reserved and cannot name a tensor")
        tag, shape, data = _to_tag_and_bytes(name, value)
        entries.append((name, tag, shape, data))
    entries.sort(key=lambda e: (-_RUST_DTYPE_ORDER.index(e[1]), e[0]))

    header: "OrderedDict[str, object]" = OrderedDict()
    if metadata is not None:
        md = OrderedDict()
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise SafetensorsError("__metadata__ must map str -> str")
            md[k] = v
        header["__metadata__"] = md
    offset = 0
    chunks = []
    for name, tag, shape, data in entries:
        header[name] = OrderedDict(
            [("dtype", tag), ("shape", shape), ("data_offsets", [offset, offset + len(data)])]
        )
        offset += len(data)
        chunks.append(data)
    hbytes = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hbytes += b" " * ((8 - len(hbytes) % 8) % 8)
    return struct.pack("<Q", len(hbytes)) + hbytes, chunks


def _atomic_write(path: str, parts) -> None:
    """Write the byte chunks to `path` atomically: temp file in the same
    folder, flush + fsync, os.replace, then fsync the folder (best effort)."""
    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            for p in parts:
                f.write(p)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def save_file(tensors: Mapping[str, TensorLike], path: str, metadata: Optional[Mapping[str, str]] = None) -> None:
    """Write `tensors` (name -> torch.Tensor or np.ndarray) to `path`."""
    head, chunks = _serialize(tensors, metadata)
    _atomic_write(path, [head] + chunks)


def _parse_header(buf: bytes, path: str):
    if len(buf) < 8:
        raise SafetensorsError(f"{path}: file too small ({len(buf)} bytes)")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > _MAX_HEADER or 8 + n > len(buf):
        raise SafetensorsError(f"{path}: invalid header length {n} (file is {len(buf)} bytes)")
    try:
        header = json.loads(buf[8 : 8 + n].decode("utf-8"), object_pairs_hook=OrderedDict)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{path}: header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is not a JSON object")
    return n, header


def read_header(path: str):
    """Return (metadata dict or None, OrderedDict name -> {dtype, shape, data_offsets})."""
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise SafetensorsError(f"{path}: file too small")
        (n,) = struct.unpack("<Q", prefix)
        if n > _MAX_HEADER:
            raise SafetensorsError(f"{path}: invalid header length {n}")
        _, header = _parse_header(prefix + f.read(n), path)
    meta = header.pop("__metadata__", None)
    return meta, header


def load_metadata(path: str) -> Optional[Dict[str, str]]:
    return read_header(path)[0]


def load_file(path: str) -> "OrderedDict[str, torch.Tensor]":
    """Read a .safetensors file into an OrderedDict name -> torch.Tensor
    (in file-buffer order). Validates dtypes, shapes and that the data
    offsets tile the byte buffer exactly."""
    with open(path, "rb") as f:
        buf = f.read()
    n, header = _parse_header(buf, path)
    header.pop("__metadata__", None)
    data = memoryview(buf)[8 + n :]
    items = []
    for name, info in header.items():
        try:
            tag = info["dtype"]
            shape = [int(d) for d in info["shape"]]
            begin, end = (int(x) for x in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise SafetensorsError(f"{path}: malformed header entry for {name!r}: {info!r}") from None
        if tag not in _TAGS:
            raise SafetensorsError(f"{path}: {name}: unsupported dtype {tag}")
        if any(d < 0 for d in shape):
            raise SafetensorsError(f"{path}: {name}: negative dimension in {shape}")
        items.append((begin, end, name, tag, shape))
    items.sort(key=lambda it: (it[0], it[1]))
    pos = 0
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for begin, end, name, tag, shape in items:
        tdtype, npdtype, size = _TAGS[tag]
        numel = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if begin != pos or end - begin != numel * size or end > len(data):
            raise SafetensorsError(
                f"{path}: {name}: data_offsets [{begin}, {end}] do not match the layout "
                f"(expected start {pos}, {numel * size} bytes, buffer has {len(data)})"
            )
        pos = end
        arr = np.frombuffer(data[begin:end], dtype=npdtype, count=numel).reshape(shape).copy()
        if tag == "BF16":
            t = torch.from_numpy(arr.view(np.int16)).view(torch.bfloat16)
        else:
            t = torch.from_numpy(arr.astype(npdtype.newbyteorder("="), copy=False))
        out[name] = t
    if pos != len(data):
        raise SafetensorsError(f"{path}: byte buffer has {len(data)} bytes, tensors cover {pos}")
    return out


# ----------------------------------------------------------------------------
# Sharded checkpoints
# ----------------------------------------------------------------------------


def _nbytes(value: TensorLike) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    return int(value.nbytes)


def save_sharded(
    tensors: Mapping[str, TensorLike],
    folder: str,
    num_shards: int,
    metadata: Optional[Mapping[str, str]] = None,
    prefix: str = "model",
) -> Dict[str, str]:
    """Split `tensors` (in their given order) into `num_shards` files of
    roughly equal byte size, named like save_pretrained names them
    (model-00001-of-00003.safetensors, ...), and write
    model.safetensors.index.json. Returns the weight_map."""
    names = list(tensors.keys())
    if num_shards < 1:
        raise ValueError("num_shards must be >= 1")
    if num_shards > max(1, len(names)):
        raise ValueError(f"cannot split {len(names)} tensors into {num_shards} non-empty shards")
    total = sum(_nbytes(tensors[k]) for k in names)
    # Contiguous split: open the next shard once the running size passes the
    # next equal-size boundary, or when every remaining tensor is needed to
    # keep the remaining shards non-empty.
    groups = [[]]
    acc = 0
    for idx, k in enumerate(names):
        to_open = num_shards - len(groups)
        if groups[-1] and to_open > 0 and (
            acc >= total * len(groups) / num_shards or len(names) - idx == to_open
        ):
            groups.append([])
        groups[-1].append(k)
        acc += _nbytes(tensors[k])
    assert len(groups) == num_shards
    weight_map: Dict[str, str] = OrderedDict()
    for i, group in enumerate(groups):
        fname = f"{prefix}-{i + 1:05d}-of-{num_shards:05d}.safetensors"
        md = dict(metadata) if metadata is not None else {"format": "pt"}
        save_file(OrderedDict((k, tensors[k]) for k in group), os.path.join(folder, fname), metadata=md)
        for k in group:
            weight_map[k] = fname
    index = {
        "metadata": {"total_size": total},
        "weight_map": OrderedDict(sorted(weight_map.items())),
    }
    text = json.dumps(index, indent=2) + "\n"
    _atomic_write(os.path.join(folder, INDEX_FILE_NAME if prefix == "model" else prefix + ".safetensors.index.json"),
                  [text.encode("utf-8")])
    return weight_map


def load_sharded(index_path: str) -> "OrderedDict[str, torch.Tensor]":
    """Load every shard named in a *.safetensors.index.json and check that
    the union of shards matches weight_map exactly."""
    with open(index_path, "r", encoding="utf-8") as f:
        index = json.load(f)
    if "weight_map" not in index or not isinstance(index["weight_map"], dict):
        raise SafetensorsError(f"{index_path}: no weight_map")
    weight_map = index["weight_map"]
    folder = os.path.dirname(os.path.abspath(index_path))
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for shard in sorted(set(weight_map.values())):
        part = load_file(os.path.join(folder, shard))
        for k, v in part.items():
            if k in out:
                raise SafetensorsError(f"{index_path}: tensor {k} appears in more than one shard")
            if weight_map.get(k) != shard:
                raise SafetensorsError(f"{index_path}: tensor {k} found in {shard} but weight_map says {weight_map.get(k)}")
            out[k] = v
    missing = set(weight_map) - set(out)
    if missing:
        raise SafetensorsError(f"{index_path}: tensors listed in weight_map but absent: {sorted(missing)[:5]}")
    return out


def load_checkpoint_dir(folder: str) -> "OrderedDict[str, torch.Tensor]":
    """Load the weights of a Hugging-Face-style model folder: model.safetensors
    if present, else model.safetensors.index.json (sharded)."""
    single = os.path.join(folder, SINGLE_FILE_NAME)
    index = os.path.join(folder, INDEX_FILE_NAME)
    if os.path.isfile(single):
        return load_file(single)
    if os.path.isfile(index):
        return load_sharded(index)
    raise FileNotFoundError(f"{folder}: neither {SINGLE_FILE_NAME} nor {INDEX_FILE_NAME} found")
