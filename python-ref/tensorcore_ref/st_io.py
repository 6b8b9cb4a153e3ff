"""A safetensors writer that puts every tensor at a 64-byte aligned absolute offset.

safetensors stores: 8-byte little-endian header length N, N bytes of JSON header,
then the data buffer; a tensor's data_offsets are relative to the buffer start
(8 + N). The format allows the JSON header to be padded with trailing spaces,
but the buffer must be fully covered by tensors (no holes). So:

  * the header is space-padded until 8 + N is a multiple of ALIGN;
  * where a tensor's size is not a multiple of ALIGN, a filler tensor named
    ``__pad<k>__`` (dtype U8, shape [bytes]) follows it. Loaders must ignore
    names starting with ``__pad``; the manifest never lists them.

Any safetensors reader (safetensors, HF, torch) reads the file normally.
"""
from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np

ALIGN = 64
PAD_PREFIX = "__pad"

# DSL dtype -> (safetensors dtype, bytes per element)
DTYPES = {"f32": ("F32", 4), "f16": ("F16", 2), "bf16": ("BF16", 2), "int8": ("I8", 1), "int32": ("I32", 4)}
ST_TO_DSL = {v[0]: k for k, v in DTYPES.items()}


def tensor_bytes(t) -> bytes:
    """Row-major little-endian bytes of a torch tensor (any dtype incl. bf16)."""
    import torch

    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    arr = t.numpy()
    return arr.astype(arr.dtype.newbyteorder("<")).tobytes()


def dsl_dtype(t) -> str:
    import torch

    return {torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16",
            torch.int8: "int8", torch.int32: "int32"}[t.dtype]


def write_aligned(path: Path, tensors: dict, metadata: dict | None = None) -> dict:
    """Write ``tensors`` (name -> torch tensor, in the given order).

    Returns name -> {dtype, shape, offset (absolute), nbytes, sha256}.
    """
    entries = []  # (name, st_dtype, shape, bytes)
    for name, t in tensors.items():
        if name.startswith(PAD_PREFIX):
            raise ValueError(f"tensor name {name!r} is reserved")
        entries.append((name, DTYPES[dsl_dtype(t)][0], list(t.shape), tensor_bytes(t), dsl_dtype(t)))

    header: dict = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    layout = []  # (name, start, end) relative to buffer
    pos = 0
    npad = 0
    for name, st, shape, data, _ in entries:
        header[name] = {"dtype": st, "shape": shape, "data_offsets": [pos, pos + len(data)]}
        layout.append((name, pos, data))
        pos += len(data)
        if pos % ALIGN:
            pad = ALIGN - pos % ALIGN
            header[f"{PAD_PREFIX}{npad}__"] = {"dtype": "U8", "shape": [pad], "data_offsets": [pos, pos + pad]}
            layout.append((None, pos, b"\0" * pad))
            npad += 1
            pos += pad
    hjson = json.dumps(header, separators=(",", ":")).encode()
    n = len(hjson)
    n += (-(8 + n)) % ALIGN
    hjson = hjson + b" " * (n - len(hjson))
    base = 8 + n
    info = {}
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", n))
        f.write(hjson)
        for (name, rel, data) in layout:
            assert f.tell() == base + rel
            f.write(data)
    for name, st, shape, data, dd in entries:
        rel = header[name]["data_offsets"][0]
        info[name] = {"dtype": dd, "shape": shape, "offset": base + rel, "nbytes": len(data),
                      "sha256": hashlib.sha256(data).hexdigest()}
        assert (base + rel) % ALIGN == 0
    return info


def read_header(path: Path) -> tuple[int, dict]:
    """(absolute offset of the data buffer, header dict)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return 8 + n, header


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while b := f.read(chunk):
            h.update(b)
    return h.hexdigest()


def read_raw(path: Path, offset: int, nbytes: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(nbytes)
    if len(data) != nbytes:
        from .errors import TCError
        raise TCError(f"{path}: truncated: bytes {offset}..{offset + nbytes} requested, {len(data)} read")
    return data


def sha256_range(path: Path, offset: int, nbytes: int, chunk: int = 1 << 20) -> str:
    """sha256 of a byte range, read a piece at a time (never the whole range in memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(offset)
        left = nbytes
        while left > 0:
            b = f.read(min(chunk, left))
            if not b:
                from .errors import TCError
                raise TCError(f"{path}: truncated: ends {left} bytes before the end of bytes {offset}..{offset + nbytes}")
            h.update(b)
            left -= len(b)
    return h.hexdigest()


_NP = {"f32": "<f4", "f16": "<f2", "int8": "i1", "int32": "<i4"}


def to_numpy(raw: bytes, dtype: str, shape) -> np.ndarray:
    """Raw manifest bytes -> numpy array; bf16 is widened to float32."""
    if dtype == "bf16":
        u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return u.view(np.float32).reshape(shape)
    return np.frombuffer(raw, dtype=_NP[dtype]).reshape(shape)
