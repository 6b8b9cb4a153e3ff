"""DSL model folder -> HF model (the inverse of `convert`), after checking every sha256.

Used to run HF on the committed models/embedded folder (f16) and to test that
`convert` is lossless: f32 folders give back the exact HF tensors; f16/bf16
are widened to f32; int8 tensors are dequantized (q * scale).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .convert import read_manifest, tensor_path, verify_folder
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
    from transformers import AutoConfig, GPT2LMHeadModel, LlamaForCausalLM

    folder = Path(folder)
    manifest = verify_folder(folder) if verify else read_manifest(folder)
    if not isinstance(manifest.get("consts"), dict):
        raise TCError(f"{folder / 'manifest.json'}: 'consts' is missing")
    confined_file(folder, "config.json", str(folder / "config.json"))
    try:
        config = AutoConfig.from_pretrained(folder)
    except Exception as e:  # malformed config.json
        raise TCError(f"{folder / 'config.json'}: cannot parse it ({type(e).__name__}: {e})") from None
    config._attn_implementation = "eager"
    c = manifest["consts"]
    T = lambda n: torch.from_numpy(read_tensor(folder, manifest, n).copy())  # noqa: E731
    sd = {}
    if manifest["architecture"] == "gpt2":
        config.n_positions = c["N_CTX"]
        model_cls = GPT2LMHeadModel
        sd["transformer.wte.weight"] = T("wte")
        sd["transformer.wpe.weight"] = T("wpe")
        sd["transformer.ln_f.weight"] = T("lnf_g")
        sd["transformer.ln_f.bias"] = T("lnf_b")
        per = {"ln1_g": "ln_1.weight", "ln1_b": "ln_1.bias", "w_qkv": "attn.c_attn.weight",
               "b_qkv": "attn.c_attn.bias", "w_attn_out": "attn.c_proj.weight", "b_attn_out": "attn.c_proj.bias",
               "ln2_g": "ln_2.weight", "ln2_b": "ln_2.bias", "w_fc": "mlp.c_fc.weight", "b_fc": "mlp.c_fc.bias",
               "w_proj": "mlp.c_proj.weight", "b_proj": "mlp.c_proj.bias"}
        for dsl, hf in per.items():
            st = T(dsl)
            for i in range(c["N_LAYER"]):
                sd[f"transformer.h.{i}.{hf}"] = st[i]
    elif manifest["architecture"] == "llama":
        config.max_position_embeddings = c["N_CTX"]
        model_cls = LlamaForCausalLM
        sd["model.embed_tokens.weight"] = T("tok_emb")
        sd["model.norm.weight"] = T("rmsf_g")
        sd["lm_head.weight"] = T("lm_head")
        per = {"rms1_g": ("input_layernorm.weight", False), "rms2_g": ("post_attention_layernorm.weight", False),
               "w_q": ("self_attn.q_proj.weight", True), "w_k": ("self_attn.k_proj.weight", True),
               "w_v": ("self_attn.v_proj.weight", True), "w_o": ("self_attn.o_proj.weight", True),
               "w_gate": ("mlp.gate_proj.weight", True), "w_up": ("mlp.up_proj.weight", True),
               "w_down": ("mlp.down_proj.weight", True)}
        for dsl, (hf, tr) in per.items():
            st = T(dsl)
            for i in range(c["N_LAYER"]):
                sd[f"model.layers.{i}.{hf}"] = st[i].t().contiguous() if tr else st[i]
    else:
        raise TCError(f"{folder}: unknown architecture {manifest['architecture']!r}")
    model = model_cls(config)
    try:
        missing, unexpected = model.load_state_dict(sd, strict=False)
    except RuntimeError as e:  # shapes in the manifest that do not fit config.json
        raise TCError(f"{folder}: the tensors do not fit config.json ({str(e).splitlines()[-1].strip()})") from None
    missing = [m for m in missing if m != "lm_head.weight" and "rotary_emb" not in m]
    if missing or unexpected:
        raise TCError(f"{folder}: tensors do not match {model_cls.__name__}: missing {missing}, unexpected {unexpected}")
    if manifest["architecture"] == "gpt2":
        model.tie_weights()
    return model.eval()
