"""The project's own HF models, built locally with save_pretrained (no hub access).

  gpt2-124m-random   GPT2LMHeadModel with the exact `gpt2` config, transformers' init, seed 0
  tiny-llama-random  LlamaForCausalLM: 2 layers, hidden 64, 4 heads, 2 kv heads (GQA),
                     intermediate 128, vocab 50257, rope_theta 10000, 128 positions, untied head
  gpt2-tiny-custom   GPT2LMHeadModel sized by --layers/--heads/--width/--ctx (default 3/6/192/128)
  embedded           the HF form of the committed models/embedded DSL folder (f16 weights widened to f32)

One seeded random model per supported family (FAMILY_MODELS), at sizes nobody tuned to, with an
initializer range large enough that greedy continuations vary, and every norm weight, norm bias and
projection bias redrawn after init (HF initializes them to 1 and 0, which would hide a missing or
misplaced one):

  gpt2-family      GPT-2 with exact erf GELU (activation_function "gelu")
  llama-family     Llama 3: llama3 rope scaling, GQA, head_dim != hidden/heads, attention and MLP biases
  qwen2-family     Qwen2: q/k/v biases, one kv head, tied embeddings
  qwen3-family     Qwen3: RMSNorm of every query and key head (q_norm, k_norm), head_dim != hidden/heads,
                   attention biases (attention_bias), tied embeddings
  mistral-family   Mistral: sliding_window 12, shorter than the prompts plus their continuations
  gemma-family     Gemma: GeGLU (gelu_pytorch_tanh), (1 + w) RMSNorm, embeddings scaled by sqrt(hidden)
  gemma2-family    Gemma 2: Gemma's, with RMSNorm after attention and after the MLP, scores scaled by
                   query_pre_attn_scalar**-0.5 (24, not head_dim), attention scores and logits
                   soft-capped (caps 5 and 8, low enough to bend these models' values), and a
                   10-position window on alternate layers (layer 0 slides, layer 1 sees everything);
                   untied: tied, the scaled embeddings outweigh the post-normed blocks of a random
                   model, and greedy decoding repeats its input token (as granite-family's would)
  gemma3-family    Gemma 3 (text): Gemma 2's norms and scale without soft caps, (1 + w) query/key norms,
                   layers 0 and 1 sliding (8 positions) with their own rope base (10000), layer 2
                   attending to everything with rope_theta 1e6 and linear scaling 4; untied, as gemma2-family
  phi3-family      Phi-3: fused qkv_proj (q | k | v rows) and gate_up_proj (gate | up rows), partial
                   rotary (partial_rotary_factor 0.5), GQA, a 14-position sliding window on every layer
  granite-family   Granite: embedding_multiplier 12, attention_multiplier 0.1 (the scale itself, not
                   1/sqrt(head_dim)), residual_multiplier 0.22, logits / logits_scaling 8, GQA, untied (tied, the
                   scaled embeddings outweigh the scaled blocks and every greedy step repeats its input)
  gpt-neox-family  GPT-NeoX / Pythia: parallel residual, partial rotary (rotary_pct 0.5), exact GELU
  gpt-neox-sequential  the same with use_parallel_residual false (the sequential residual)
  qwen2-sliding    qwen2-family with use_sliding_window: a 10-position window on layer 1 only
                   (max_window_layers 1), the other attending to the whole context
  phi3-longrope    phi3-family with LongRoPE (short and long factors, original_max_position_embeddings 48)
  gemma3-multimodal  Gemma 3 as its 4B+ checkpoints are published (Gemma3ForConditionalGeneration,
                   model_type gemma3): gemma3-family's language model beside a small vision tower

--format writes the weights as published (safetensors, sharded safetensors with
model.safetensors.index.json, or pytorch_model.bin) and --source-dtype in f32, f16 or bf16.

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

FAMILY_SEED = 1234
FAMILY_MODELS = {
    "gpt2-family": ("GPT2LMHeadModel", {
        "vocab_size": 50257, "n_positions": 80, "n_embd": 72, "n_layer": 2, "n_head": 3,
        "activation_function": "gelu", "layer_norm_epsilon": 1e-5, "initializer_range": 0.2,
        "bos_token_id": 50256, "eos_token_id": 50256}),
    "llama-family": ("LlamaForCausalLM", {
        "vocab_size": 50257, "hidden_size": 56, "intermediate_size": 88, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 12, "max_position_embeddings": 96,
        "rms_norm_eps": 1e-5, "hidden_act": "silu", "attention_bias": True, "mlp_bias": True,
        "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                            "high_freq_factor": 4.0, "original_max_position_embeddings": 32},
        "tie_word_embeddings": False, "initializer_range": 0.2, "bos_token_id": 50256, "eos_token_id": 50256}),
    "qwen2-family": ("Qwen2ForCausalLM", {
        "vocab_size": 50257, "hidden_size": 40, "intermediate_size": 72, "num_hidden_layers": 2,
        "num_attention_heads": 5, "num_key_value_heads": 1, "max_position_embeddings": 96, "rms_norm_eps": 1e-6,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0}, "tie_word_embeddings": True,
        "initializer_range": 0.2, "bos_token_id": 50256, "eos_token_id": 50256}),
    "qwen3-family": ("Qwen3ForCausalLM", {
        "vocab_size": 50257, "hidden_size": 52, "intermediate_size": 84, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "max_position_embeddings": 96,
        "rms_norm_eps": 1e-6, "attention_bias": True, "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
        "tie_word_embeddings": True, "initializer_range": 0.2, "bos_token_id": 50256, "eos_token_id": 50256}),
    "mistral-family": ("MistralForCausalLM", {
        "vocab_size": 50257, "hidden_size": 48, "intermediate_size": 80, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 12, "max_position_embeddings": 96,
        "rms_norm_eps": 1e-5, "sliding_window": 12, "tie_word_embeddings": False, "initializer_range": 0.2,
        "bos_token_id": 50256, "eos_token_id": 50256}),
    "gemma-family": ("GemmaForCausalLM", {
        "vocab_size": 50257, "hidden_size": 48, "intermediate_size": 96, "num_hidden_layers": 2,
        "num_attention_heads": 3, "num_key_value_heads": 1, "head_dim": 20, "max_position_embeddings": 96,
        "rms_norm_eps": 1e-6, "hidden_act": "gelu_pytorch_tanh", "tie_word_embeddings": True,
        "initializer_range": 0.4, "pad_token_id": 0, "bos_token_id": 50256, "eos_token_id": 50256}),
    "gemma2-family": ("Gemma2ForCausalLM", {
        "vocab_size": 50257, "hidden_size": 44, "intermediate_size": 100, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 14, "max_position_embeddings": 96,
        "rms_norm_eps": 1e-6, "hidden_activation": "gelu_pytorch_tanh", "query_pre_attn_scalar": 24,
        "attn_logit_softcapping": 5.0, "final_logit_softcapping": 8.0, "sliding_window": 10,
        "tie_word_embeddings": False, "initializer_range": 0.3, "pad_token_id": 0, "bos_token_id": 50256,
        "eos_token_id": 50256}),
    "gemma3-family": ("Gemma3ForCausalLM", {
        "vocab_size": 50257, "hidden_size": 40, "intermediate_size": 88, "num_hidden_layers": 3,
        "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 16, "max_position_embeddings": 96,
        "rms_norm_eps": 1e-6, "hidden_activation": "gelu_pytorch_tanh", "query_pre_attn_scalar": 20,
        "sliding_window": 8, "layer_types": ["sliding_attention", "sliding_attention", "full_attention"],
        "rope_parameters": {"full_attention": {"rope_type": "linear", "factor": 4.0, "rope_theta": 1000000.0},
                            "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}},
        "tie_word_embeddings": False, "initializer_range": 0.3, "pad_token_id": 0, "bos_token_id": 50256,
        "eos_token_id": 50256}),
    "phi3-family": ("Phi3ForCausalLM", {
        "vocab_size": 50257, "hidden_size": 48, "intermediate_size": 76, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 96,
        "original_max_position_embeddings": 96, "rms_norm_eps": 1e-5, "hidden_act": "silu",
        "rope_parameters": {"rope_type": "default", "rope_theta": 250000.0, "partial_rotary_factor": 0.5},
        "sliding_window": 14, "tie_word_embeddings": False, "initializer_range": 0.2, "pad_token_id": 50256,
        "bos_token_id": 50256, "eos_token_id": 50256}),
    "granite-family": ("GraniteForCausalLM", {
        "vocab_size": 50257, "hidden_size": 40, "intermediate_size": 72, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 96, "rms_norm_eps": 1e-6,
        "hidden_act": "silu", "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0},
        "embedding_multiplier": 12.0, "attention_multiplier": 0.1, "residual_multiplier": 0.22, "logits_scaling": 8.0,
        "tie_word_embeddings": False, "initializer_range": 0.2, "pad_token_id": 0, "bos_token_id": 50256,
        "eos_token_id": 50256}),
    "gpt-neox-family": ("GPTNeoXForCausalLM", {
        "vocab_size": 50257, "hidden_size": 60, "intermediate_size": 136, "num_hidden_layers": 2,
        "num_attention_heads": 5, "max_position_embeddings": 96, "layer_norm_eps": 1e-5, "hidden_act": "gelu",
        "rotary_pct": 0.5, "rotary_emb_base": 10000, "use_parallel_residual": True, "tie_word_embeddings": False,
        "initializer_range": 0.2, "bos_token_id": 50256, "eos_token_id": 50256}),
}
# GPT-NeoX's other residual form (x = x + attn(ln1(x)); x = x + mlp(ln2(x))): a variant of the family
# model, not a seventh family, so that the one field is all that differs
FAMILY_MODELS["gpt-neox-sequential"] = ("GPTNeoXForCausalLM", {**FAMILY_MODELS["gpt-neox-family"][1], "use_parallel_residual": False})
# Phi-3.5 / Phi-4-mini's LongRoPE: short_factor up to original_max_position_embeddings (48), the
# attention factor sqrt(1 + ln(96 / 48) / ln 48) on cos and sin; convert needs --max-ctx 48
FAMILY_MODELS["phi3-longrope"] = ("Phi3ForCausalLM", {**FAMILY_MODELS["phi3-family"][1], "original_max_position_embeddings": 48,
                                                      "rope_parameters": {"rope_type": "longrope", "rope_theta": 250000.0,
                                                                          "partial_rotary_factor": 0.5,
                                                                          "short_factor": [1.0, 1.75, 3.5],
                                                                          "long_factor": [1.5, 4.0, 9.0]}})
# Qwen2 with a sliding window on the layers from max_window_layers on (layer 1 of 2): per-layer windows
FAMILY_MODELS["qwen2-sliding"] = ("Qwen2ForCausalLM", {**FAMILY_MODELS["qwen2-family"][1], "use_sliding_window": True,
                                                       "sliding_window": 10, "max_window_layers": 1})
# Gemma 3 as its 4B and larger checkpoints are published: Gemma3ForConditionalGeneration (model_type
# gemma3), gemma3-family's language model in text_config beside a small SigLIP vision tower, saved
# under the hub's names (language_model.model.*, vision_tower.*, multi_modal_projector.*). The image
# token is out of the vocabulary (as the hub's 262144 of 262144 ids), so no text prompt can hold it.
FAMILY_MODELS["gemma3-multimodal"] = ("Gemma3ForConditionalGeneration", {
    "text_config": FAMILY_MODELS["gemma3-family"][1], "initializer_range": 0.3, "tie_word_embeddings": False,
    "vision_config": {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                      "image_size": 32, "patch_size": 16, "vision_use_head": False},
    "mm_tokens_per_image": 4, "image_token_index": 50257, "boi_token_index": 50254, "eoi_token_index": 50253,
    "eos_token_id": 50256})
FORMATS = ("safetensors", "sharded", "bin")
SOURCE_DTYPES = ("f32", "f16", "bf16")
NAMES = ("gpt2-124m-random", "llama-153m-random", "tiny-llama-random", "gpt2-tiny-custom", "embedded", *FAMILY_MODELS)
STAMP = "tensorcore-make.json"


def options_of(name: str) -> tuple[str, ...]:
    """The options a model is built from; the others change nothing, so giving one is refused."""
    if name == "gpt2-tiny-custom":
        return ("layers", "heads", "width", "ctx", "seed")
    if name == "tiny-llama-random":
        return ("seed",)
    if name in FAMILY_MODELS:
        return ("seed", "format", "source_dtype")
    return ()


def check_options(name: str, kw: dict) -> None:
    """Refuse options the model ignores (--layers for llama-family) and sizes that are not positive,
    naming the option: both used to build a folder silently unlike what was asked for."""
    flag = lambda k: "--" + k.replace("_", "-")  # noqa: E731
    extra = [k for k in kw if k not in options_of(name)]
    if extra:
        own = options_of(name)
        raise TCError(f"{flag(extra[0])} is not an option of {name}: "
                      + (f"its options are {', '.join(map(flag, own))}" if own else "it takes none (only --out)")
                      + ("; only gpt2-tiny-custom is sized by --layers, --heads, --width and --ctx"
                         if extra[0] in ("layers", "heads", "width", "ctx") else ""))
    for k in ("layers", "heads", "width", "ctx"):
        v = kw.get(k)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise TCError(f"{flag(k)} {v!r}: expected a positive integer")
    seed = kw.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2 ** 32):
        raise TCError(f"--seed {seed!r}: expected an integer from 0 to 2**32 - 1")


def recipe(name: str, layers=3, heads=6, width=192, ctx=128, seed=0, format="safetensors", source_dtype="f32") -> dict:
    if format not in FORMATS:
        raise TCError(f"--format {format!r}: expected one of {', '.join(FORMATS)}")
    if source_dtype not in SOURCE_DTYPES:
        raise TCError(f"--source-dtype {source_dtype!r}: expected one of {', '.join(SOURCE_DTYPES)}")
    if name in FAMILY_MODELS:
        cls, config = FAMILY_MODELS[name]
        return {"name": name, "class": cls, "seed": FAMILY_SEED + seed, "config": config, "randomize_norms": True,
                "format": format, "source_dtype": source_dtype}
    if name == "gpt2-124m-random":
        return {"name": name, "class": "GPT2LMHeadModel", "seed": 0, "config": {
            "vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12,
            "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "bos_token_id": 50256,
            "eos_token_id": 50256}}
    if name == "llama-153m-random":
        # the bench's Llama: GPT-2 124M's width, depth and heads with Llama's blocks (RMSNorm, RoPE,
        # 4 key/value heads for 12 query heads, a SwiGLU MLP of 2048) and an untied head: 153M
        # parameters, 77M of them the two vocabulary matrices
        return {"name": name, "class": "LlamaForCausalLM", "seed": 0, "config": {
            "vocab_size": 50257, "hidden_size": 768, "intermediate_size": 2048, "num_hidden_layers": 12,
            "num_attention_heads": 12, "num_key_value_heads": 4, "max_position_embeddings": 1024,
            "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": False,
            "bos_token_id": 50256, "eos_token_id": 50256}}
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
    if name in FAMILY_MODELS:
        suffix = f"-{kw.get('format', 'safetensors')}-{kw.get('source_dtype', 'f32')}-s{kw.get('seed', 0)}"
    if name == "gpt2-tiny-custom":
        suffix = f"-l{kw.get('layers', 3)}-h{kw.get('heads', 6)}-w{kw.get('width', 192)}-c{kw.get('ctx', 128)}-s{kw.get('seed', 0)}"
    return cache_dir() / "models" / (name + suffix)


def _reusable(out: Path, rec: dict) -> bool:
    stamp = out / STAMP
    if not stamp.is_file():
        return False
    try:
        s = json.loads(stamp.read_text())
    except (OSError, ValueError, RecursionError):  # unreadable: rebuilt, as any stale folder
        return False
    if not isinstance(s, dict):
        return False
    f = out / s.get("weights_file", "model.safetensors")
    return s.get("recipe") == rec and f.is_file() and sha256_file(f) == s.get("model_sha256")


def make_owner(folder: Path) -> str | None:
    """None when ``folder`` holds make-model's stamp, else why it is not ours to replace."""
    stamp = Path(folder) / STAMP
    if not stamp.is_file() or stamp.is_symlink():
        return f"it is not empty and has no {STAMP}"
    return None


def randomize_norms_and_biases(model, seed: int) -> None:
    """Redraw what HF initializes to constants: norm weights around 1 (Gemma's (1 + w) weights around
    0), norm biases and projection biases around 0, so that each one visibly changes the output."""
    import torch

    from .convert import GEMMA_NORMS

    g = torch.Generator().manual_seed(seed)
    gemma = model.config.get_text_config().model_type in GEMMA_NORMS  # a multimodal model: its language model's
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() != 1:
                continue
            noise = torch.randn(p.shape, generator=g)
            norm = "norm" in name or ".ln_" in name or "ln_f" in name
            if norm and name.endswith("weight"):
                p.copy_((0.0 if gemma else 1.0) + 0.3 * noise)
            else:  # a norm's or a projection's bias
                p.copy_(0.1 * noise)


def save_as(model, tmp: Path, fmt: str, source_dtype: str) -> str:
    """save_pretrained in one of the published forms; returns the file the stamp hashes."""
    import torch

    if source_dtype != "f32":
        model = model.to({"f16": torch.float16, "bf16": torch.bfloat16}[source_dtype])
    if fmt == "bin":
        # transformers 5 writes safetensors only; a pytorch_model.bin is the state dict torch.save'd,
        # tied tensors included, as older transformers versions published it
        model.config.save_pretrained(tmp)
        if model.can_generate():
            model.generation_config.save_pretrained(tmp)
        torch.save({k: v.contiguous() for k, v in model.state_dict().items()}, tmp / "pytorch_model.bin")
        return "pytorch_model.bin"
    model.save_pretrained(tmp, max_shard_size="2MB" if fmt == "sharded" else "50GB")
    if fmt == "sharded" and not (tmp / "model.safetensors.index.json").is_file():
        raise TCError("sharded save wrote a single file (the model is smaller than a shard)")
    return "model.safetensors.index.json" if fmt == "sharded" else "model.safetensors"


def make_model(name: str, out: Path | None = None, quiet: bool = False, **kw) -> Path:
    if name not in NAMES:
        raise TCError(f"unknown model {name!r}; known: {', '.join(NAMES)}")
    check_options(name, kw)
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
    import transformers

    with atomic_dir(out, make_owner, "model folder that `tensorcore hf make-model` wrote") as tmp:
        if name == "embedded":
            from .dsl_to_hf import load_dsl_as_hf
            model = load_dsl_as_hf(EMBEDDED_DIR)
        else:
            torch.manual_seed(rec["seed"])
            cls = getattr(transformers, rec["class"])
            model = cls(cls.config_class(**rec["config"]))
            if rec.get("randomize_norms"):
                randomize_norms_and_biases(model, rec["seed"])
        weights_file = save_as(model.eval(), tmp, rec.get("format", "safetensors"), rec.get("source_dtype", "f32"))
        save_gpt2_tokenizer(tmp)
        (tmp / STAMP).write_text(json.dumps(
            {"recipe": rec, "weights_file": weights_file, "model_sha256": sha256_file(tmp / weights_file)}, indent=1) + "\n")
    if not quiet:
        print(f"wrote {out}", file=sys.stderr)
    return out
