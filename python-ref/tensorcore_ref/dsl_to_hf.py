"""DSL model folder -> HF model (the inverse of `convert`), after checking every sha256.

Used to run HF on the committed models/embedded folder (f16) and to test that
`convert` is lossless: f32 folders give back the exact HF tensors; f16/bf16
are widened to f32; int8 tensors are dequantized (q * scale).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .convert import LAYER, SUPPORTED, blocks_to_per_head, eval_dims, longrope_limit, read_manifest, tensor_path, verify_folder, weight_table
from .errors import TCError
from .fsutil import confined_file
from . import st_io


def read_tensor(folder: Path, manifest: dict, name: str) -> np.ndarray:
    """A manifest tensor as float32 numpy (int8 dequantized with its scale)."""
    if name not in manifest["tensors"]:
        raise TCError(f"{Path(folder) / 'manifest.json'}: no tensor {name!r}")
    t = manifest["tensors"][name]
    raw = st_io.read_raw(tensor_path(folder, manifest, name), t["offset"], t["nbytes"])
    a = st_io.to_numpy(raw, t["dtype"], t["shape"])
    if t["dtype"] == "int8":
        s = read_tensor(folder, manifest, f"{name}_scale")
        a = a.astype(np.float32)
        a = a * (s[..., None, :] if a.ndim == 3 else s[:, None])
    return a.astype(np.float32)


def load_dsl_as_hf(folder: Path, verify: bool = True):
    import torch
    import transformers
    from transformers import AutoConfig

    folder = Path(folder)
    manifest = verify_folder(folder) if verify else read_manifest(folder)
    if not isinstance(manifest.get("consts"), dict):
        raise TCError(f"{folder / 'manifest.json'}: 'consts' is missing")
    confined_file(folder, "config.json", str(folder / "config.json"))
    try:
        config = AutoConfig.from_pretrained(folder).get_text_config()  # a multimodal model's: its language model's
    except Exception as e:  # malformed config.json
        raise TCError(f"{folder / 'config.json'}: cannot parse it ({type(e).__name__}: {e})") from None
    config._attn_implementation = "eager"
    c = manifest["consts"]
    arch = manifest["architecture"]
    if arch not in SUPPORTED:
        raise TCError(f"{folder}: unknown architecture {arch!r}")
    T = lambda n: torch.from_numpy(read_tensor(folder, manifest, n).copy())  # noqa: E731
    # the weight table read backwards: each row's tensor goes back under its HF name(s)
    sd = {}
    fused: dict[str, list] = {}  # a fused HF tensor's name -> its rows' (start, tensor) slices
    for row in weight_table(arch):
        hf = row.get("hf")
        if hf is None:  # computed (RoPE tables): HF recomputes them
            continue
        if row.get("absent") and not manifest["tensors"][row["name"]]["hf_names"]:
            continue  # zeros standing for a bias the model does not have
        t = T(row["name"])
        if LAYER in hf:
            for i in range(c["N_LAYER"]):
                ti = t[i].t().contiguous() if row.get("transpose") else t[i]
                if row.get("per_head"):
                    ti = blocks_to_per_head(ti, c[row["per_head"]]).contiguous()
                if row.get("hf_rows"):
                    fused.setdefault(hf.replace(LAYER, str(i)), []).append((eval_dims(row["hf_rows"][0], c), ti))
                else:
                    sd[hf.replace(LAYER, str(i))] = ti
        else:
            sd[hf] = t
    for name, parts in fused.items():  # Phi-3's qkv_proj, gate_up_proj: the slices in row order
        sd[name] = torch.cat([t for _, t in sorted(parts, key=lambda p: p[0])])
    if arch == "gpt2":
        config.n_positions = c["N_CTX"]
    elif longrope_limit(config) is None:  # LongRoPE's scale comes from max_position_embeddings: keep it
        config.max_position_embeddings = c["N_CTX"]
    model_cls = getattr(transformers, SUPPORTED[arch])
    model = model_cls(config)
    try:
        missing, unexpected = model.load_state_dict(sd, strict=False)
    except RuntimeError as e:  # shapes in the manifest that do not fit config.json
        raise TCError(f"{folder}: the tensors do not fit config.json ({str(e).splitlines()[-1].strip()})") from None
    missing = [m for m in missing if m != "lm_head.weight" and "rotary_emb" not in m]
    if missing or unexpected:
        raise TCError(f"{folder}: tensors do not match {model_cls.__name__}: missing {missing}, unexpected {unexpected}")
    if arch == "gpt2":
        model.tie_weights()
    return model.eval()
