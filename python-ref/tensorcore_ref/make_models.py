"""The project's own HF models, built locally with save_pretrained (no hub access).

  gpt2-124m-random   GPT2LMHeadModel with the exact `gpt2` config, transformers' init, seed 0
  tiny-llama-random  LlamaForCausalLM: 2 layers, hidden 64, 4 heads, 2 kv heads (GQA),
                     intermediate 128, vocab 50257, rope_theta 10000, 128 positions, untied head
  gpt2-tiny-custom   GPT2LMHeadModel sized by --layers/--heads/--width/--ctx (default 3/6/192/128)
  embedded           the HF form of the committed models/embedded DSL folder (f16 weights widened to f32)

All are saved with the real GPT-2 tokenizer files. A folder is reused when its
tensorcore-make.json recipe matches and model.safetensors still has the recorded sha256.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .errors import TCError
from .fsutil import atomic_dir
from .paths import EMBEDDED_DIR, cache_dir, save_gpt2_tokenizer
from .st_io import sha256_file

NAMES = ("gpt2-124m-random", "tiny-llama-random", "gpt2-tiny-custom", "embedded")
STAMP = "tensorcore-make.json"


def recipe(name: str, layers=3, heads=6, width=192, ctx=128, seed=0) -> dict:
    if name == "gpt2-124m-random":
        return {"name": name, "class": "GPT2LMHeadModel", "seed": 0, "config": {
            "vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12,
            "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "bos_token_id": 50256,
            "eos_token_id": 50256}}
    if name == "tiny-llama-random":
        return {"name": name, "class": "LlamaForCausalLM", "seed": seed, "config": {
            "vocab_size": 50257, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128,
            "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": False,
            "bos_token_id": 50256, "eos_token_id": 50256}}
    if name == "gpt2-tiny-custom":
        if width % heads:
            raise TCError(f"--width {width} must be divisible by --heads {heads}")
        return {"name": name, "class": "GPT2LMHeadModel", "seed": seed, "config": {
            "vocab_size": 50257, "n_positions": ctx, "n_embd": width, "n_layer": layers, "n_head": heads,
            "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "bos_token_id": 50256,
            "eos_token_id": 50256}}
    if name == "embedded":
        return {"name": name, "class": "GPT2LMHeadModel", "from_dsl": str(EMBEDDED_DIR)}
    raise TCError(f"unknown model {name!r}; known: {', '.join(NAMES)}")


def default_out(name: str, **kw) -> Path:
    suffix = ""
    if name == "gpt2-tiny-custom":
        suffix = f"-l{kw.get('layers', 3)}-h{kw.get('heads', 6)}-w{kw.get('width', 192)}-c{kw.get('ctx', 128)}-s{kw.get('seed', 0)}"
    return cache_dir() / "models" / (name + suffix)


def _reusable(out: Path, rec: dict) -> bool:
    stamp = out / STAMP
    if not stamp.is_file():
        return False
    try:
        s = json.loads(stamp.read_text())
    except json.JSONDecodeError:
        return False
    f = out / "model.safetensors"
    return s.get("recipe") == rec and f.is_file() and sha256_file(f) == s.get("model_sha256")


def make_owner(folder: Path) -> str | None:
    """None when ``folder`` holds make-model's stamp, else why it is not ours to replace."""
    stamp = Path(folder) / STAMP
    if not stamp.is_file() or stamp.is_symlink():
        return f"it is not empty and has no {STAMP}"
    return None


def make_model(name: str, out: Path | None = None, quiet: bool = False, **kw) -> Path:
    rec = recipe(name, **kw)
    out = Path(out) if out else default_out(name, **kw)
    if name == "embedded":
        from .convert import verify_folder
        manifest = verify_folder(EMBEDDED_DIR)
        rec["weights_sha256"] = manifest["weights_sha256"]
    if _reusable(out, rec):
        if not quiet:
            print(f"reusing {out}", file=sys.stderr)
        return out
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    with atomic_dir(out, make_owner, "model folder that `tensorcore hf make-model` wrote") as tmp:
        if name == "embedded":
            from .dsl_to_hf import load_dsl_as_hf
            model = load_dsl_as_hf(EMBEDDED_DIR)
        elif rec["class"] == "GPT2LMHeadModel":
            torch.manual_seed(rec["seed"])
            model = GPT2LMHeadModel(GPT2Config(**rec["config"]))
        else:
            torch.manual_seed(rec["seed"])
            model = LlamaForCausalLM(LlamaConfig(**rec["config"]))
        model.eval().save_pretrained(tmp)
        save_gpt2_tokenizer(tmp)
        (tmp / STAMP).write_text(json.dumps(
            {"recipe": rec, "model_sha256": sha256_file(tmp / "model.safetensors")}, indent=1) + "\n")
    if not quiet:
        print(f"wrote {out}", file=sys.stderr)
    return out
