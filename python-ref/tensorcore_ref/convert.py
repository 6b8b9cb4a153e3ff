"""HF model (GPT-2, Llama, Qwen2, Qwen3, Mistral, Gemma, Gemma 2, Gemma 3, GPT-NeoX) -> TensorCore DSL model folder.

See docs/model-folder.md for the folder contract.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .errors import TCError
from .progress import Steps
from .fsutil import atomic_dir, prepare_output, confined_file
from .regex_cost import backtracking_problem, patterns_in
from .paths import REPO_ROOT
from . import st_io

FORMAT = "tensorcore-model/1"
WRITTEN_BY = "tensorcore convert"
WHAT = "model folder that `tensorcore hf convert` wrote"
WEIGHTS_FILE = "weights.safetensors"
DTYPES = ("f32", "f16", "bf16", "int8")
# Every tokenizer file the source has: tokenizer.json is what transformers 5 saves (often the only
# vocabulary a hub folder has), tokenizer_config.json names the class whose pipeline it runs, and
# generation_config.json lists the ids that end generation, chat_template.jinja is a chat model's
# prompt format (models/chat.ts). models/tokenizer.ts reads the rest.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "tokenizer.model",
                   "special_tokens_map.json", "added_tokens.json", "generation_config.json", "chat_template.jinja")

# the libraries (folders of models/) and the HF model_types each instantiates, from their weight tables
LIBRARIES = ("gpt2", "llama", "gpt_neox")


def _families() -> tuple[dict[str, tuple[str, str]], dict[str, dict]]:
    out, multimodal = {}, {}
    for lib in LIBRARIES:
        table = json.loads((REPO_ROOT / "models" / lib / "weights.json").read_text())
        for model_type, hf_class in table["model_types"].items():
            out[model_type] = (lib, hf_class)
        multimodal.update(table.get("multimodal", {}))
    return out, multimodal


FAMILIES, MULTIMODAL = _families()  # model_type -> (library, HF class); multimodal model_type -> its language model
SUPPORTED = {mt: cls for mt, (_, cls) in FAMILIES.items()}
LLAMA_LIKE = tuple(mt for mt, (lib, _) in FAMILIES.items() if lib == "llama")
# What sets the Llama library's model types apart, by model_type (plan_llama turns these into consts)
GEMMA_NORMS = ("gemma", "gemma2", "gemma3_text")     # (1 + w) RMSNorm, embeddings scaled by sqrt(hidden)
GEMMA2_LIKE = ("gemma2", "gemma3_text")              # post-norms, query_pre_attn_scalar, soft caps, hidden_activation
QK_NORMED = ("qwen3", "gemma3_text")                 # q_norm / k_norm on every head, always
SLIDING = ("mistral", "qwen2", "qwen3", "gemma2", "gemma3_text", "phi3")  # sliding_window (per layer_types)
PARTIAL_ROTARY = ("phi3",)                           # partial_rotary_factor (the others' HF rotates whole heads)
# config activation names -> the DSL's ACT kinds (docs/language.md): 1 GELU tanh form, 2 SiLU, 3 exact GELU, 4 ReLU
ACT_KINDS = {"gelu_new": 1, "gelu_pytorch_tanh": 1, "silu": 2, "swish": 2, "gelu": 3, "relu": 4}

# ---------------------------------------------------------------------------
# source loading


def _is_local(source: str) -> bool:
    return (os.path.isabs(source) or source.startswith((".", "~")) or os.path.exists(source)
            or source.count("/") > 1 or os.sep in source and not re.fullmatch(r"[\w.-]+/[\w.-]+", source))


def source_file(source: str, name: str, required: bool = True) -> Path | None:
    """Path of ``name`` from a local save_pretrained folder or a hub id (HF cache; offline OK)."""
    p = Path(source).expanduser()
    if p.is_dir():
        f = p / name
        if os.path.lexists(f):  # a link out of the folder (vocab.json -> /etc/passwd) would be copied into the output
            confined_file(p, name, str(f), hub_blobs=True)
            return f
        if required:
            raise TCError(f"{source}: no {name} in this folder (expected a save_pretrained folder)")
        return None
    if _is_local(source):
        raise TCError(f"{source}: model folder not found")
    from transformers.utils import cached_file

    try:
        f = cached_file(source, name, _raise_exceptions_for_missing_entries=False)
    except Exception as e:  # offline, unknown repo, ...
        if required:
            raise TCError(f"{source}: cannot fetch {name} from the Hugging Face hub "
                          f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                          "pass a local save_pretrained folder instead") from None
        return None
    if f is None and required:
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
        raise TCError(f"{source}: not a local folder, and {name} is not in the HF cache"
                      + (" (HF_HUB_OFFLINE=1: the hub is not contacted)" if offline else " or on the hub")
                      + "; pass a save_pretrained folder (e.g. from `make-model`)")
    if f is None:
        return None
    f = Path(f)
    confined_file(f.parent, f.name, str(f), hub_blobs=True)  # the cache's snapshot links into its blobs
    return f


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes, shown, constants: bool = True) -> object:
    """JSON from a file's bytes; what makes it unreadable is a TCError naming the file. constants:
    accept Python's NaN / Infinity extension (json.dump writes it into HF configs); the files this
    project writes are strict JSON, as the TypeScript loader reads them."""
    try:
        return json.loads(raw.decode("utf-8"), **({} if constants else {"parse_constant": _no_constant}))
    except UnicodeDecodeError as e:
        raise TCError(f"{shown}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except ValueError as e:  # (JSONDecodeError, and NaN / Infinity where refused)
        raise TCError(f"{shown}: invalid JSON ({e})") from None
    except RecursionError:
        raise TCError(f"{shown}: invalid JSON (nested too deeply)") from None


# Text files of a source folder (config, tokenizer, index) are read whole: a size cap first, as
# models/tokenizer.ts has (tokenizer.json files run to ~35 MB; a multi-GB one is not a tokenizer).
TEXT_FILE_MAX = 256 << 20


def read_small_file(path: Path) -> bytes:
    """The bytes of a text file of the source folder, refused (naming it) above TEXT_FILE_MAX."""
    size = path.stat().st_size
    if size > TEXT_FILE_MAX:
        raise TCError(f"{path}: {size} bytes, more than the {TEXT_FILE_MAX >> 20} MiB a config or tokenizer file can be")
    return path.read_bytes()


def read_json_object(path: Path) -> dict:
    data = parse_json(read_small_file(path), path)
    if not isinstance(data, dict):
        raise TCError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def read_config(source: str) -> tuple[dict, bytes]:
    path = source_file(source, "config.json")
    raw = read_small_file(path)
    cfg = parse_json(raw, path)
    if not isinstance(cfg, dict):
        raise TCError(f"{path}: expected a JSON object, got {type(cfg).__name__}")
    return cfg, raw


TOKENIZER_SUPPORTED = ("tokenizer.json (byte-level BPE as GPT-2, Llama 3 and Qwen2; SentencePiece-style BPE "
                       "with byte fallback as Llama 2, Mistral and Gemma) or vocab.json + merges.txt")


def check_tokenizer_structure(source: str) -> None:
    """The tokenizer files convert copies, checked before any work: each inside the folder
    (source_file), the JSON ones JSON objects, tokenizer.json's "model" an object with a "type",
    merges.txt UTF-8 text, its patterns of bounded backtracking cost. A structural check only
    (models/tokenizer.ts reads the contents): a broken file would otherwise be copied into a folder
    that generate then refuses."""
    for name in TOKENIZER_FILES:
        f = source_file(source, name, required=False)
        if f is None or name == "tokenizer.model":  # SentencePiece's binary protobuf
            continue
        if name in ("merges.txt", "chat_template.jinja"):  # text, not JSON
            try:
                read_small_file(f).decode("utf-8")
            except UnicodeDecodeError as e:
                raise TCError(f"{f}: not UTF-8 text ({e.reason} at byte {e.start})") from None
            continue
        data = read_json_object(f)
        if name == "tokenizer.json":
            model = data.get("model")
            if not isinstance(model, dict) or not isinstance(model.get("type"), str):
                raise TCError(f"{f}: \"model\" must be an object with a \"type\" (a tokenizers library "
                              f"tokenizer.json), got {json.dumps(model)[:60] if model is not None else 'nothing'}")
            # HF tokenizers would panic on such a pattern at the first unlucky text (regex_cost.py)
            for section in ("normalizer", "pre_tokenizer", "decoder", "post_processor"):
                for where, pattern in patterns_in(data.get(section), section):
                    problem = backtracking_problem(pattern)
                    if problem:
                        raise TCError(f"{f}: {where}: regex {json.dumps(pattern)} is not supported: {problem}")


def check_tokenizer_files(source: str) -> None:
    """Refuse a folder whose only tokenizer is Mistral's tekken.json (mistral-common's format, which
    nothing here reads) before minutes of work: converting it would leave a folder generate cannot use.
    A folder with tokenizer.json (Mistral's HF repos ship both) converts with that."""
    check_tokenizer_structure(source)
    if source_file(source, "tokenizer.json", required=False) is not None:
        return
    if source_file(source, "vocab.json", required=False) and source_file(source, "merges.txt", required=False):
        return
    tekken = source_file(source, "tekken.json", required=False)
    if tekken is not None:
        raise TCError(f"{tekken}: Mistral's tekken tokenizer is not supported and the folder has no other "
                      f"tokenizer; supported: {TOKENIZER_SUPPORTED}")


def architecture_of(cfg: dict) -> str:
    """The model_type the DSL runs: config.json's, or for a multimodal model (MULTIMODAL) its
    language model's (text_config's)."""
    mt = cfg.get("model_type")
    archs = cfg.get("architectures") or []
    if isinstance(mt, str) and mt in MULTIMODAL:
        mm = MULTIMODAL[mt]
        bad = [a for a in archs if a != mm["hf_class"]]
        if bad:
            raise TCError(f"unsupported architecture {bad[0]!r}: only {mm['hf_class']} is supported for model_type {mt!r}")
        text = cfg.get("text_config", {})
        if not isinstance(text, dict):
            raise TCError(f"config.json: text_config must be a JSON object, not {type(text).__name__}")
        if text.get("model_type", mm["text_model_type"]) != mm["text_model_type"]:
            raise TCError(f"config.json: text_config.model_type={text.get('model_type')!r} is not supported for "
                          f"model_type {mt!r} (expected {mm['text_model_type']!r})")
        return mm["text_model_type"]
    if not isinstance(mt, str) or mt not in SUPPORTED:
        raise TCError(f"unsupported architecture: model_type {mt!r} (architectures {archs}); "
                      f"supported: " + ", ".join(f"{k} ({v})" for k, v in SUPPORTED.items()) + ", and the "
                      "language model of " + ", ".join(f"{k} ({v['hf_class']})" for k, v in MULTIMODAL.items()))
    bad = [a for a in archs if a != SUPPORTED[mt]]
    if bad:
        raise TCError(f"unsupported architecture {bad[0]!r}: only {SUPPORTED[mt]} is supported for model_type {mt!r}")
    return mt


def multimodal_of(cfg: dict) -> dict | None:
    """MULTIMODAL's entry for a config.json whose model is a multimodal one, else None."""
    mt = cfg.get("model_type")
    return MULTIMODAL[mt] if isinstance(mt, str) and mt in MULTIMODAL else None


def multimodal_name(name: str, mm: dict | None) -> str:
    """A text model tensor's name in the multimodal model (mm), whose language model it is."""
    for text, full in (mm or {}).get("prefixes", {}).items():
        if name.startswith(text):
            return full + name[len(text):]
    return name


def check_multimodal_fields(cfg: dict, mm: dict, ignore_unknown: bool) -> None:
    """The fields outside text_config: those of the multimodal config class are about images (the
    vision tower, the image tokens), which text-only generation never reaches; others are refused as
    for any config."""
    from transformers import AutoConfig

    if ignore_unknown:
        return
    unknown = sorted(set(cfg) - _generic_fields() - set(AutoConfig.for_model(cfg["model_type"]).to_dict()))
    if unknown:
        raise TCError(f"config.json: unknown {cfg['model_type']} config field(s) {', '.join(unknown)}: the "
                      f"{mm['hf_class']} reader does not know how to honour them (use --ignore-unknown-config to convert anyway)")


# ---------------------------------------------------------------------------
# config validation


def _generic_fields() -> set[str]:
    from transformers import PretrainedConfig

    return set(PretrainedConfig().to_dict()) | {
        "architectures", "model_type", "transformers_version", "_name_or_path", "torch_dtype", "dtype",
        "use_cache", "task_specific_params", "pad_token_id", "bos_token_id", "eos_token_id",
        "output_attentions", "output_hidden_states", "return_dict", "chunk_size_feed_forward",
        "is_encoder_decoder", "is_decoder", "add_cross_attention", "tie_word_embeddings",
        "id2label", "label2id", "problem_type", "tokenizer_class", "prefix", "sep_token_id",
        "decoder_start_token_id", "finetuning_task", "cross_attention_hidden_size", "tf_legacy_loss",
        "pruned_heads", "torchscript", "use_bfloat16", "initializer_range", "layer_types",
        "_attn_implementation_autoset", "attn_implementation",
        # classes in the model repo's own .py files (trust_remote_code): never imported here, since
        # convert loads transformers' own class for the model_type and never passes trust_remote_code
        "auto_map",
    }


# fields of each model_type that its config class does not list but published config.json files carry
# (older spellings the config class converts, or fields transformers reads without storing)
EXTRA_FIELDS = {
    "gpt2": {"n_ctx"},
    "llama": {"rope_scaling", "rope_theta", "rope_parameters", "head_dim", "pretraining_tp"},
    "qwen2": {"rope_scaling", "rope_theta", "rope_parameters", "use_sliding_window", "sliding_window",
              "max_window_layers", "layer_types", "use_mrope"},
    "qwen3": {"rope_scaling", "rope_theta", "rope_parameters", "use_sliding_window", "sliding_window",
              "max_window_layers", "layer_types", "head_dim"},
    "mistral": {"rope_scaling", "rope_theta", "rope_parameters", "sliding_window", "head_dim"},
    "gemma": {"rope_scaling", "rope_theta", "rope_parameters", "head_dim", "hidden_activation"},
    "gemma2": {"rope_scaling", "rope_theta", "rope_parameters", "head_dim", "hidden_act", "cache_implementation",
               "sliding_window", "layer_types"},
    "gemma3_text": {"rope_scaling", "rope_theta", "rope_local_base_freq", "rope_parameters", "head_dim", "hidden_act",
                    "cache_implementation", "sliding_window", "sliding_window_pattern", "layer_types"},
    "granite": {"rope_scaling", "rope_theta", "rope_parameters", "head_dim"},
    # (Phi-3's attention_bias: some published configs carry it; transformers' Phi3Attention has no biases whatever it says)
    "phi3": {"rope_scaling", "rope_theta", "rope_parameters", "partial_rotary_factor", "sliding_window", "attention_bias"},
    "gpt_neox": {"rope_scaling", "rope_theta", "rope_parameters", "rotary_pct", "rotary_emb_base",
                 "partial_rotary_factor", "use_parallel_residual", "attention_bias"},
}


def _known_fields(arch: str) -> set[str]:
    from transformers import AutoConfig

    return _generic_fields() | set(AutoConfig.for_model(arch).to_dict()) | EXTRA_FIELDS[arch]


def act_field_of(arch: str) -> str:
    """The config field the family's MLP reads its activation from (Gemma2MLP: hidden_activation)."""
    return "hidden_activation" if arch in GEMMA2_LIKE else "hidden_act"


def activation_kind(field: str, value) -> int:
    if value not in ACT_KINDS:
        raise TCError(f"config.json: {field}={value!r} is not supported (supported: {', '.join(ACT_KINDS)})")
    return ACT_KINDS[value]


# config.json numbers that size the model or become its consts, under every spelling the supported
# config classes read (GPT-2's n_* and their num_* aliases). Checked in the JSON itself, before
# transformers divides by them or allocates by them; null stands for "the default" where allowed.
POSITIVE_INTS = ("vocab_size", "n_positions", "n_ctx", "n_embd", "n_layer", "n_head", "n_inner",
                 "max_position_embeddings", "hidden_size", "num_hidden_layers", "num_attention_heads",
                 "num_key_value_heads", "intermediate_size", "head_dim", "sliding_window")
POSITIVE_NUMBERS = ("rms_norm_eps", "layer_norm_epsilon", "layer_norm_eps", "rope_theta", "rotary_emb_base",
                    "rope_local_base_freq", "attn_logit_softcapping", "final_logit_softcapping",
                    "query_pre_attn_scalar", "attention_multiplier", "logits_scaling")
FINITE_NUMBERS = ("embedding_multiplier", "residual_multiplier", "partial_rotary_factor", "rotary_pct")


def check_numbers(raw: dict, where: str = "config.json") -> None:
    """Refuse (naming the field) a size that is not a positive integer, or an eps, rope base, scale
    or cap that is not a finite positive number."""
    import math

    def number(v) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    problems = []
    for k in POSITIVE_INTS:
        v = raw.get(k)
        if v is not None and not (isinstance(v, int) and not isinstance(v, bool) and v > 0):
            problems.append(f"{k}={v!r} must be a positive integer")
    for k in POSITIVE_NUMBERS:
        v = raw.get(k)
        if v is not None and not (number(v) and math.isfinite(v) and v > 0):
            problems.append(f"{k}={v!r} must be a finite positive number")
    for k in FINITE_NUMBERS:
        v = raw.get(k)
        if v is not None and not (number(v) and math.isfinite(v)):
            problems.append(f"{k}={v!r} must be a finite number")
    # the rope base in rope_parameters / rope_scaling (per kind of layer for Gemma 3)
    for key in ("rope_parameters", "rope_scaling"):
        rp = raw.get(key)
        for sub, d in ([(f"{key}.{t}", rp[t]) for t in sorted(ROPE_LAYER_TYPES) if isinstance(rp.get(t), dict)]
                       if isinstance(rp, dict) else []) + [(key, rp)]:
            if isinstance(d, dict):
                for k in ("rope_theta", "factor"):
                    v = d.get(k)
                    if v is not None and not (number(v) and math.isfinite(v) and v > 0):
                        problems.append(f"{sub}.{k}={v!r} must be a finite positive number")
    if problems:
        raise TCError(f"{where}: " + "; ".join(problems))


# the rope tables convert computes (cos and sin, f32, N_CTX rows each): past this, name --max-ctx
POSITION_TABLES_MAX = 1 << 30


def check_position_tables(arch: str, config, n_ctx: int, max_ctx: int | None) -> None:
    """Refuse a context whose rope tables would not fit in memory (max_position_embeddings of
    10**12 would allocate terabytes) with the --max-ctx that caps it."""
    hd = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    tables = (2 if arch == "gemma3_text" else 1) * (2 if rope_type(config) == "longrope" else 1)
    nbytes = 2 * tables * n_ctx * (hd // 2) * 4
    if nbytes > POSITION_TABLES_MAX:
        fit = max(1, POSITION_TABLES_MAX // (2 * tables * max(1, hd // 2) * 4))
        raise TCError(f"config.json: a context of {n_ctx} positions{' (--max-ctx)' if max_ctx and max_ctx == n_ctx else ' (max_position_embeddings)'} "
                      f"needs {nbytes / (1 << 30):.1f} GiB of rope tables (at most {POSITION_TABLES_MAX >> 30} GiB); "
                      f"pass --max-ctx N to cap it (N <= {fit})")


def check_config(arch: str, raw: dict, config, ignore_unknown: bool = False) -> None:
    """Reject config fields the generator cannot honour (one clear message naming field and value).

    What each honoured field becomes is in the plan_* functions; docs/models.md has the table.
    """
    if not ignore_unknown:
        unknown = sorted(set(raw) - _known_fields(arch))
        if unknown:
            raise TCError(f"config.json: unknown {arch} config field(s) {', '.join(unknown)}: the {arch} "
                          "generator does not know how to honour them (use --ignore-unknown-config to convert anyway)")
    g = lambda k, d=None: getattr(config, k, d)  # noqa: E731
    problems = []
    if g("add_cross_attention"):
        problems.append("add_cross_attention=true (cross-attention) is not supported")
    if arch == "gpt2":
        if g("activation_function") not in ("gelu_new", "gelu_pytorch_tanh", "gelu"):
            problems.append(f"activation_function={g('activation_function')!r} is not supported "
                            "(gelu_new, gelu_pytorch_tanh or gelu)")
        if g("scale_attn_by_inverse_layer_idx"):
            problems.append("scale_attn_by_inverse_layer_idx=true is not supported")
        if g("scale_attn_weights") is False:
            problems.append("scale_attn_weights=false is not supported")
        if config.n_embd % config.n_head:
            problems.append(f"n_embd={config.n_embd} is not divisible by n_head={config.n_head}")
        if raw.get("tie_word_embeddings") is False:
            problems.append("tie_word_embeddings=false: the GPT-2 DSL model uses wte as its LM head")
        return _refuse(problems)
    act_field = act_field_of(arch)
    act = g(act_field)
    if act not in ACT_KINDS:
        problems.append(f"{act_field}={act!r} is not supported ({', '.join(ACT_KINDS)})")
    rt = rope_type(config)
    kinds = ("default", "linear", "llama3") + (("longrope",) if arch in LLAMA_LIKE else ())
    if any(t not in kinds for t in rt.split("+")):
        problems.append(f"rope type {rt!r} is not supported (rope_parameters / rope_scaling: {', '.join(kinds)})")
    # partial rotary (GPT-NeoX's rotary_pct, Phi-3's partial_rotary_factor): the rotated part of a head
    hd = g("head_dim") or (config.hidden_size // config.num_attention_heads)
    if (arch == "gpt_neox" or arch in PARTIAL_ROTARY) and config.hidden_size % config.num_attention_heads:
        problems.append(f"hidden_size={config.hidden_size} is not divisible by num_attention_heads={config.num_attention_heads}")
    else:
        factor = (g("rope_parameters") or {}).get("partial_rotary_factor", 1.0) if isinstance(g("rope_parameters"), dict) else 1.0
        rot = int(hd * float(factor))
        if rot < 2 or rot % 2:
            problems.append(f"partial_rotary_factor{' (rotary_pct)' if arch == 'gpt_neox' else ''}={factor!r} "
                            f"gives {rot} rotary dimensions of {hd}: RoPE needs an even number, at least 2")
    if arch == "gpt_neox":
        return _refuse(problems)
    nh, nkv = config.num_attention_heads, (g("num_key_value_heads") or config.num_attention_heads)
    if nh % nkv:
        problems.append(f"num_attention_heads={nh} is not a multiple of num_key_value_heads={nkv}")
    if g("use_bidirectional_attention"):
        problems.append("use_bidirectional_attention=true is not supported (causal attention only)")
    if raw.get("use_mrope"):  # Qwen2.5 configs carry false; true is Qwen2-VL's multimodal RoPE
        problems.append("use_mrope=true (multimodal rotary embedding) is not supported")
    return _refuse(problems)


def _refuse(problems: list[str]) -> None:
    if problems:
        raise TCError("config.json: " + "; ".join(problems))


def rope_type(config) -> str:
    """The rope type; Gemma 3's per-layer-type parameters give "full_attention+sliding_attention" types joined by "+"."""
    rp = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    if isinstance(rp, dict) and ROPE_LAYER_TYPES <= set(rp):
        return "+".join(sorted({rp[t].get("rope_type", "default") or "default" for t in ROPE_LAYER_TYPES}))
    if isinstance(rp, dict):
        return rp.get("rope_type", rp.get("type", "default")) or "default"
    return "default"


ROPE_LAYER_TYPES = {"full_attention", "sliding_attention"}


def sliding_window(arch: str, config, n_ctx: int) -> tuple[list[int], str]:
    """Each layer's attention window (the `windows` tensor) and a note. A query sees the keys less than
    its layer's window behind it; N_CTX is full causal attention.

    Mistral: sliding_window (None: full attention) on every layer. Qwen2, Qwen3, Gemma 2 and 3:
    layer_types says which layers slide (transformers derives it from use_sliding_window and
    max_window_layers, alternates for Gemma 2, five of six for Gemma 3). A window the context cannot
    exceed changes nothing.
    """
    L = config.num_hidden_layers
    w = getattr(config, "sliding_window", None) if arch in SLIDING else None
    if w is None:
        return [n_ctx] * L, "none (full causal attention)"
    kinds = list(getattr(config, "layer_types", None) or ["sliding_attention"] * L)
    if arch == "mistral":
        kinds = ["sliding_attention"] * L
    bad = sorted({k for k in kinds if k not in ("sliding_attention", "full_attention")})
    if bad or len(kinds) != L:
        raise TCError(f"config.json: layer_types {kinds!r} is not supported (one of sliding_attention, full_attention per layer)")
    sliding = [i for i, k in enumerate(kinds) if k == "sliding_attention"]
    if not sliding:
        return [n_ctx] * L, f"sliding_window={w} is used by no layer (layer_types): full causal attention"
    if w >= n_ctx:
        return [n_ctx] * L, f"sliding_window={w} >= the context {n_ctx}: no effect, full causal attention"
    windows = [int(w) if k == "sliding_attention" else n_ctx for k in kinds]
    which = "every layer" if len(sliding) == L else f"layer{'s' if len(sliding) > 1 else ''} {', '.join(map(str, sliding))} (the others attend to the whole context)"
    return windows, f"sliding_window={w} on {which}: a query sees the {w} latest positions (itself included)"


def longrope_limit(config) -> int | None:
    """LongRoPE's original_max_position_embeddings (None for other rope types)."""
    if "longrope" not in rope_type(config).split("+"):
        return None
    rp = getattr(config, "rope_parameters", None) or {}
    if ROPE_LAYER_TYPES <= set(rp):  # per kind of layer (Gemma 3): the longrope one's
        rp = next(rp[t] for t in sorted(ROPE_LAYER_TYPES) if rp[t].get("rope_type") == "longrope")
    limit = rp.get("original_max_position_embeddings") or getattr(config, "original_max_position_embeddings", None)
    if not isinstance(limit, int) or limit < 1:
        raise TCError(f"config.json: rope type longrope needs original_max_position_embeddings (a positive integer), not {limit!r}")
    return limit


def rope_theta(config) -> float:
    rp = getattr(config, "rope_parameters", None) or {}
    if isinstance(rp, dict) and ROPE_LAYER_TYPES <= set(rp):  # Gemma 3: the full-attention layers' theta
        rp = rp["full_attention"]
    if isinstance(rp, dict) and "rope_theta" in rp:
        return float(rp["rope_theta"])
    return float(getattr(config, "rope_theta", 10000.0))


# ---------------------------------------------------------------------------
# model.ta generation


def fmt_num(x) -> str:
    if isinstance(x, bool):
        return str(int(x))
    if isinstance(x, int):
        return str(x)
    x = float(x)
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x)}.0"
    s = repr(x)
    if "e" in s:
        m, e = s.split("e")
        return f"{m}e{int(e)}"
    return s


def eval_dims(expr: str, consts: dict) -> int:
    """Evaluate a shape expression of consts, integers and + - * / ( )."""
    if not re.fullmatch(r"[A-Z0-9_ +\-*/()]+", expr):
        raise ValueError(expr)
    tokens = re.sub(r"[A-Z_][A-Z0-9_]*", lambda m: str(consts[m.group()]), expr).replace("/", "//")
    return int(eval(tokens, {"__builtins__": {}}))  # noqa: S307 - digits and operators only


@dataclass
class Weight:
    name: str
    tensor: object  # torch tensor, float32, final layout
    type_name: str
    dims: list[str]  # const expressions
    space: str  # TileReg | Global
    hf_names: list[str]
    transform: str
    quantize: bool = False  # int8 candidate (matrices)
    note: str = ""
    scale_type: str = ""  # model.ta type of <name>_scale when quantized


@dataclass
class Plan:
    arch: str
    consts: dict  # name -> number (ordered)
    weights: list[Weight] = field(default_factory=list)
    info: dict = field(default_factory=dict)


TILE = "Tiled(128x48)"


# ---------------------------------------------------------------------------
# the weight tables: models/<arch>/weights.json (docs/models.md, "The weight table")

LAYER = "{layer}"
TRANSPOSED = "stack+transpose (HF Linear (out,in) -> (in,out))"


def weight_table(arch: str) -> list[dict]:
    """The rows of the weight table of arch's library, models/<library>/weights.json: one per weight
    parameter of the library's forward, as they read for arch: "hf_for"[arch] replaces "hf" (Gemma 2's
    pre-MLP norm is pre_feedforward_layernorm, Llama's post_attention_layernorm), and a row "only"
    other model types have is marked "not_here" (convert writes its "absent" fill); "fused_for"[arch]
    makes the row a slice of a fused tensor (Phi-3's qkv_proj, gate_up_proj): "hf" and "hf_rows"."""
    path = REPO_ROOT / "models" / FAMILIES.get(arch, (arch,))[0] / "weights.json"
    try:
        table = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise TCError(f"{path}: cannot read the weight table ({e})") from None
    rows = []
    for r in table["weights"]:
        r = dict(r, hf=r.get("hf_for", {}).get(arch, r.get("hf")))
        if arch in r.get("fused_for", {}):  # a slice of a fused tensor: hf_rows = [start, count] of its out axis
            r.update(hf=r["fused_for"][arch]["hf"], hf_rows=r["fused_for"][arch]["rows"])
        if "only" in r and arch not in r["only"]:
            r["not_here"] = True
        rows.append({k: v for k, v in r.items() if v is not None})
    return rows


def hf_names_of(row: dict, n_layer: int) -> list[str]:
    """The HF tensors a row is built from, in stacking order ({layer} = 0 .. n_layer-1)."""
    hf = row.get("hf")
    if hf is None:
        return []
    names = [hf.replace(LAYER, str(i)) for i in range(n_layer)] if LAYER in hf else [hf]
    return names + ([row["tied"]] if "tied" in row else [])


def plan_weights(p: Plan, table: list[dict], sd, n_layer: int, computed: dict) -> None:
    """Append one Weight per table row, in table order (the order of weights.safetensors).

    hf with {layer}: the per-layer tensors stacked on a leading N_LAYER axis, each transposed first
    when "transpose" (and its rows regrouped from per-head q, k, v to q | k | v blocks first when
    "per_head"); "absent": "zeros" (or "ones") and no layer's tensor in the state dict (the config turns that
    bias or norm off): zeros (ones) of the row's shape; without {layer}: the tensor itself, its first rows only when "rows" names a smaller
    const. "tied": another HF name of the same tensor, refused when the state dict holds it with
    other values. "tied_to": when the state dict holds the same values as that (earlier) row's
    tensor, a copy of it (a tensor the state dict lacks is an error, never a silent copy:
    transformers 5 lists a tied LM head under its own name too). "computed": a tensor the plan computed (computed[name] = (tensor, transform)).
    """
    import torch

    by_name = {}
    for row in table:
        name, hf = row["name"], row.get("hf")
        hf_names = hf_names_of(row, n_layer)
        if "computed" in row:
            t, transform = computed[row["computed"]]
        elif LAYER in hf and row.get("absent") in ("zeros", "ones") and (row.get("not_here") or not any(n in sd for n in hf_names)):
            fill = torch.zeros if row["absent"] == "zeros" else torch.ones
            t = fill([eval_dims(d, p.consts) for d in row["dims"]])
            hf_names, transform = [], f"{row['absent']} (the model has no such tensor)"
        elif LAYER in hf:
            missing = [n for n in hf_names if n not in sd]
            if missing:
                raise TCError(f"weights: missing tensor {missing[0]}")
            ts = [sd[n].float() for n in hf_names]
            if row.get("hf_rows"):  # rows [start, start + count) of a fused tensor's out axis
                start, count = (eval_dims(d, p.consts) for d in row["hf_rows"])
                if ts[0].shape[0] < start + count:
                    raise TCError(f"weights: {hf_names[0]} has {ts[0].shape[0]} rows; {name} needs rows [{start}, {start + count})")
                ts = [t[start:start + count] for t in ts]
            if row.get("per_head"):
                ts = [per_head_to_blocks(t, p.consts[row["per_head"]]) for t in ts]
            if row.get("transpose"):
                ts = [t.t() for t in ts]
            t = torch.stack(ts).contiguous()
            transform = TRANSPOSED if row.get("transpose") else "stack"
            if row.get("hf_rows"):
                transform = f"rows [{start}, {start + count}) of the fused tensor, then " + transform
            if row.get("per_head"):
                transform += "; rows regrouped from per-head (q, k, v) to q | k | v blocks"
        elif "tied_to" in row and hf in sd and torch.equal(sd[hf], sd[by_name[row["tied_to"]]["hf"]]):
            t = by_name[row["tied_to"]]["tensor"].clone()
            hf_names, transform = [by_name[row["tied_to"]]["hf"]], f"copy of {row['tied_to']} (tied)"
        else:
            if hf not in sd:
                raise TCError(f"weights: missing tensor {hf}")
            t, transform = sd[hf].float(), "copy"
            if "tied" in row and row["tied"] in sd and not torch.equal(sd[row["tied"]], sd[hf]):
                raise TCError(f"{row['tied']} differs from {hf}: the {p.arch} DSL model needs tied embeddings "
                              f"({name} is also its LM head)")
            if "rows" in row:
                n = p.consts[row["rows"]]
                if n < t.shape[0]:
                    t, transform = t[:n], f"rows [0, {n})"
        by_name[name] = {"hf": hf, "tensor": t}
        p.weights.append(Weight(name, t, row["type"], row["dims"], row["space"], hf_names, transform,
                                "int8_scale" in row, row.get("note", ""), row.get("int8_scale", "")))


def per_head_to_blocks(t, heads: int):
    """GPT-NeoX's fused QKV rows (out axis) are [head 0: q, k, v][head 1: q, k, v]...: regroup them
    as [q of every head][k ...][v ...], GPT-2's layout (the out axis is the first, weight or bias)."""
    return t.reshape(heads, 3, -1, *t.shape[1:]).transpose(0, 1).reshape(t.shape)


def blocks_to_per_head(t, heads: int):
    """The inverse of per_head_to_blocks."""
    return t.reshape(3, heads, -1, *t.shape[1:]).transpose(0, 1).reshape(t.shape)


def gen_model_ta(plan: Plan, dtypes: dict[str, str], extra_types: list[tuple[str, str, list[str], str]]) -> str:
    lines = [f"// Generated by tensorcore hf convert from config.json ({plan.arch}). Do not edit."]
    for k, v in plan.info.get("comments", []):
        lines.append(f"// {k}: {v}")
    for k, v in plan.consts.items():
        lines.append(f"const {k} = {fmt_num(v)};")
    seen: dict[str, str] = {}
    users: dict[str, list[str]] = {}
    decls: list[tuple[str, str]] = []
    # The stacked projection matrices {N_LAYER, K, N} are declared Tiled(128x48): the compiled back end
    # multiplies many rows (prefill) by packing them in 128-row x 48-column tiles (docs/compiler.md).
    # Storage stays row-major (a layout never changes what an index means), so the file is the same.
    items = [(w.type_name, dtypes[w.name], w.dims, w.space, w.name, TILE if w.quantize and len(w.dims) == 3 else "RowMajor")
             for w in plan.weights]
    items += [(t, p, d, s, n, "RowMajor") for (t, p, d, s, n) in extra_types]
    for tname, prec, dims, space, wname, layout in items:
        decl = f"type {tname} = Tensor<{prec}, {{{', '.join(dims)}}}, {space}, {layout}>;"
        if tname in seen:
            if seen[tname] != decl:
                raise AssertionError(f"type {tname} declared twice differently: {seen[tname]} / {decl}")
            users[tname].append(wname)
            continue
        seen[tname] = decl
        users[tname] = [wname]
        decls.append((tname, decl))
    for tname, decl in decls:
        lines.append(f"// {', '.join(users[tname])}")
        lines.append(decl)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# per-architecture plans


def plan_gpt2(config, sd, max_ctx: int | None, dtype: str = "f32") -> Plan:
    L, D, H = config.n_layer, config.n_embd, config.n_head
    n_ctx = config.n_positions if not max_ctx else min(max_ctx, config.n_positions)
    d_ff = config.n_inner or 4 * D
    act = config.activation_function
    consts = {"VOCAB": config.vocab_size, "N_CTX": n_ctx, "D_MODEL": D, "N_HEAD": H, "HEAD_DIM": D // H,
              "N_LAYER": L, "D_FF": d_ff, "LN_EPS": float(config.layer_norm_epsilon),
              "GELU_TANH": 0 if act == "gelu" else 1}
    p = Plan("gpt2", consts, info={"activation": act, "comments": [
        ("activation", f"{act} (GELU_TANH = 1: tanh approximation, 0: exact erf)"),
        ("attention", "causal, scores scaled by 1/sqrt(HEAD_DIM); LayerNorm before attention and MLP"),
        ("lm head", "logits = lnf(x) @ wte^T (tied)")]})
    plan_weights(p, weight_table("gpt2"), sd, L, {})
    return p


def rope_tables(model, n_ctx: int, layer_type: str | None = None, upto: int | None = None):
    """cos/sin {n_ctx, ROT_DIM/2} exactly as the model's own HF rotary embedding computes them (with
    linear / llama3 / longrope scaling and attention_scaling); ROT_DIM is the rotated part of a head.
    layer_type: Gemma 3's embedding has one table per kind of layer (full_attention,
    sliding_attention). upto: the table of a sequence of that many positions (LongRoPE's short
    factors: HF picks them from the longest position it is given); the rows past it, which no
    position of such a sequence reads, are zeros."""
    import torch

    rot = model.base_model.rotary_emb
    m = n_ctx if upto is None else upto
    x = torch.zeros(1, m, 1, dtype=torch.float32)  # only its dtype and device are read
    pos = torch.arange(m).unsqueeze(0)
    with torch.no_grad():
        cos, sin = rot(x, pos) if layer_type is None else rot(x, pos, layer_type)
    cos, sin = cos[0].float(), sin[0].float()
    half = cos.shape[-1] // 2
    assert torch.equal(cos[:, :half], cos[:, half:]) and torch.equal(sin[:, :half], sin[:, half:])
    pad = torch.zeros(n_ctx - m, half)
    return torch.cat([cos[:, :half], pad]).contiguous(), torch.cat([sin[:, :half], pad]).contiguous()



def _round_to(x: float, dtype: str) -> float:
    """x as the folder's float precision holds it (f32 for f32 and int8 folders)."""
    import torch

    t = {"f16": torch.float16, "bf16": torch.bfloat16}.get(dtype, torch.float32)
    return float(torch.tensor(x, dtype=torch.float32).to(t).float())


def _rope_plan(p: Plan, model, config, n_ctx: int, layer_type: str | None = None, upto: int | None = None) -> dict:
    cos, sin = rope_tables(model, n_ctx, layer_type, upto)
    p.consts["ROT_DIM"] = 2 * cos.shape[1]
    p.info.update(rope_type=rope_type(config), rope_theta=rope_theta(config))
    what = "computed by the model's HF rotary embedding: %s(pos * inv_freq) * attention_scaling, first half"
    return {"rope_cos": (cos, what % "cos"), "rope_sin": (sin, what % "sin")}


def _tied(table, sd) -> bool:
    import torch

    lm = next(r for r in table if r["name"] == "lm_head")
    emb = next(r for r in table if r["name"] == lm["tied_to"])
    return lm["hf"] not in sd or torch.equal(sd[lm["hf"]], sd[emb["hf"]])


def plan_llama(config, sd, model, max_ctx: int | None, arch: str = "llama", dtype: str = "f32") -> Plan:
    """Llama 2/3, Qwen2, Qwen3, Mistral and Gemma 1-3: models/llama/llama.ta instantiated by model.ta's consts."""
    L, D, H = config.num_hidden_layers, config.hidden_size, config.num_attention_heads
    KV = config.num_key_value_heads or H
    hd = getattr(config, "head_dim", None) or D // H
    n_ctx = config.max_position_embeddings if not max_ctx else min(max_ctx, config.max_position_embeddings)
    act = getattr(config, act_field_of(arch))
    gemma = arch in GEMMA_NORMS
    gemma2 = arch in GEMMA2_LIKE
    granite = arch == "granite"
    attn_cap = getattr(config, "attn_logit_softcapping", None) if gemma2 else None
    final_cap = getattr(config, "final_logit_softcapping", None) if gemma2 else None
    windows, window_note = sliding_window(arch, config, n_ctx)
    consts = {"VOCAB": config.vocab_size, "N_CTX": n_ctx, "D_MODEL": D, "N_HEAD": H, "N_KV_HEAD": KV,
              "HEAD_DIM": hd, "N_LAYER": L, "D_FF": config.intermediate_size, "RMS_EPS": float(config.rms_norm_eps),
              "GATE_ACT": activation_kind(act_field_of(arch), act),
              "RMS_OFFSET": 1.0 if gemma else 0.0,
              # HF multiplies by hidden_size**0.5 cast to the model's dtype (GemmaTextScaledWordEmbedding)
              # (Granite: its embedding_multiplier, a float HF multiplies by in f32)
              "EMB_SCALE": _round_to(D ** 0.5, dtype) if gemma else float(config.embedding_multiplier) if granite else 1.0,
              # Gemma 2: RMSNorm after attention and after the MLP too (post_attn_g, post_ffn_g); scores
              # scaled by query_pre_attn_scalar**-0.5; attention scores and final logits soft-capped
              # (tanh(x / cap) * cap) when the config gives a cap
              "SANDWICH": int(gemma2),
              # the scores' scale is ATTN_SCALAR**-0.5: Granite gives the scale itself (attention_multiplier)
              "ATTN_SCALAR": config.query_pre_attn_scalar if gemma2 else (
                  float(config.attention_multiplier) ** -2 if granite else hd),
              "ATTN_SOFTCAP_ON": int(attn_cap is not None), "ATTN_SOFTCAP": float(attn_cap or 1.0),
              "FINAL_SOFTCAP_ON": int(final_cap is not None), "FINAL_SOFTCAP": float(final_cap or 1.0),
              # Granite: each block's output times residual_multiplier before the residual add; logits / logits_scaling
              "RESID_SCALE": float(config.residual_multiplier) if granite else 1.0,
              "LOGITS_SCALING_ON": int(granite), "LOGITS_SCALING": float(config.logits_scaling) if granite else 1.0}
    table = weight_table(arch)
    tied = _tied(table, sd)
    has_bias = {r["name"]: r["hf"].replace(LAYER, "0") in sd for r in table if r["name"].startswith("b_")}
    biases = [n for n, b in has_bias.items() if b]
    # Qwen3's and Gemma 3's RMSNorm of each query and key head (q_norm, k_norm), read from the state
    # dict: a model has both or neither, and those two always have them
    qk = [r["hf"].replace(LAYER, "0") in sd for r in table if r["name"] in ("q_norm", "k_norm")]
    if any(qk) != all(qk) or (arch in QK_NORMED and not all(qk)):
        raise TCError(f"weights: {arch} needs both self_attn.q_norm.weight and self_attn.k_norm.weight or neither "
                      f"(found: {', '.join(n for n, h in zip(('q_norm', 'k_norm'), qk) if h) or 'neither'})")
    consts["QK_NORM"] = int(all(qk))
    p = Plan(arch, consts, info={"activation": act, "tied_embeddings": bool(tied), "biases": biases,
                                 "sliding_window": window_note, "comments": [
        ("family", f"{arch} ({SUPPORTED[arch]}) on models/llama/llama.ta"),
        ("attention", "causal, GQA: query head h uses kv head h / (N_HEAD / N_KV_HEAD); scores scaled by 1/sqrt(ATTN_SCALAR)"),
        ("sliding window", f"{window_note} (windows: {windows})"),
        ("rope", f"{rope_type(config)}, theta {rope_theta(config):g}; rotate_half convention: "
                 "x[:ROT_DIM/2] and x[ROT_DIM/2:ROT_DIM] of each head rotate together with rope_cos/rope_sin[pos]"),
        ("mlp", f"w_down(act(x @ w_gate + b_gate) * (x @ w_up + b_up)) + b_down, act = {act} (GATE_ACT); "
                "RMSNorm before attention and MLP" + (", multiplying by (1 + w) (RMS_OFFSET)" if gemma else "")),
        ("embeddings", f"scaled by sqrt(hidden_size) = {consts['EMB_SCALE']!r} (EMB_SCALE)" if gemma else
                       f"scaled by embedding_multiplier = {consts['EMB_SCALE']!r} (EMB_SCALE)" if consts["EMB_SCALE"] != 1.0 else "not scaled"),
        ("granite", f"residual_multiplier {consts['RESID_SCALE']!r} (RESID_SCALE), attention_multiplier (ATTN_SCALAR = "
                    f"{consts['ATTN_SCALAR']!r}), logits / {consts['LOGITS_SCALING']!r} (LOGITS_SCALING)" if granite
         else "no residual, attention or logits multipliers"),
        ("gemma 2 / 3", f"RMSNorm after attention and after the MLP (SANDWICH); scores scaled by {consts['ATTN_SCALAR']}**-0.5 "
                    f"(ATTN_SCALAR); soft caps: attention {attn_cap}, final logits {final_cap}" if gemma2 else "no post-norms, no soft caps"),
        ("biases", ", ".join(biases) if biases else "none (zero tensors)"),
        ("query/key norm", "RMSNorm of every query and key head before RoPE (q_norm, k_norm; QK_NORM)" if consts["QK_NORM"]
         else "none (QK_NORM = 0; q_norm and k_norm are unread ones)"),
        ("lm head", "tied to the token embeddings" if tied else "untied (lm_head.weight)")]})
    import torch

    # one rope table per kind of layer: Gemma 3's sliding layers turn with rope_local_base_freq
    # (rope_parameters["sliding_attention"]), its full-attention layers with rope_theta and scaling;
    # the others have one table, which every layer reads
    kinds = sorted(ROPE_LAYER_TYPES) if arch == "gemma3_text" else [None]
    # LongRoPE past original_max_position_embeddings: a second set of tables. transformers turns a
    # sequence of at most that many positions with short_factor and a longer one with long_factor
    # (from the longest position of each forward); set 0's tables are the short ones up to the limit
    # (and zeros past it, which such a sequence never reads), set 1's the long ones
    limit = longrope_limit(config)
    sets = [limit, None] if limit is not None and n_ctx > limit else [None]
    computed = _rope_plan(p, model, config, n_ctx, kinds[0], sets[0])
    tables = [(computed["rope_cos"][0], computed["rope_sin"][0])] + [
        rope_tables(model, n_ctx, k, upto) for i, upto in enumerate(sets) for k in kinds if (i, k) != (0, kinds[0])]
    kind_of = [kinds.index(t) for t in config.layer_types] if len(kinds) > 1 else [0] * L
    rope_of = [[s * len(kinds) + k for k in kind_of] for s in range(len(sets))]
    p.consts["N_ROPE"] = len(tables)
    p.consts["ROPE_SETS"] = len(sets)
    p.consts["ROPE_LONG_AFTER"] = limit if len(sets) == 2 else n_ctx
    kinds_note = f"; one table per layer kind {kinds}" if len(kinds) > 1 else ""
    sets_note = (f"; set 0 (tables 0..{len(kinds) - 1}): short_factor, for a sequence of at most {limit} positions "
                 f"(rows past it zero); set 1: long_factor, beyond" if len(sets) == 2 else "")
    for i, name in enumerate(("rope_cos", "rope_sin")):
        computed[name] = (torch.stack([t[i] for t in tables]).contiguous(), computed[name][1] + kinds_note + sets_note)
    computed["rope_of"] = (torch.tensor(rope_of, dtype=torch.int32),
                           "which rope table each layer uses, per rope set (int32)" + sets_note)
    if p.consts["ROT_DIM"] != hd and arch not in PARTIAL_ROTARY:
        raise TCError(f"config.json: partial rotary ({p.consts['ROT_DIM']} of {hd} head dimensions) is not supported for {arch}")
    computed["windows"] = (torch.tensor(windows, dtype=torch.int32), "computed from sliding_window and layer_types (int32)")
    plan_weights(p, table, sd, L, computed)
    return p


def plan_gpt_neox(config, sd, model, max_ctx: int | None) -> Plan:
    """GPT-NeoX / Pythia: models/gpt_neox/gpt_neox.ta."""
    L, D, H = config.num_hidden_layers, config.hidden_size, config.num_attention_heads
    n_ctx = config.max_position_embeddings if not max_ctx else min(max_ctx, config.max_position_embeddings)
    act = config.hidden_act
    parallel = bool(config.use_parallel_residual)
    consts = {"VOCAB": config.vocab_size, "N_CTX": n_ctx, "D_MODEL": D, "N_HEAD": H, "HEAD_DIM": D // H,
              "N_LAYER": L, "D_FF": config.intermediate_size, "LN_EPS": float(config.layer_norm_eps),
              "MLP_ACT": activation_kind("hidden_act", act), "PARALLEL": int(parallel)}
    table = weight_table("gpt_neox")
    tied = _tied(table, sd)
    p = Plan("gpt_neox", consts, info={"activation": act, "tied_embeddings": bool(tied),
                                       "parallel_residual": parallel, "comments": [
        ("attention", "causal, query_key_value regrouped to q | k | v column blocks; scores scaled by 1/sqrt(HEAD_DIM)"),
        ("residual", "parallel: x + attn(ln1(x)) + mlp(ln2(x))" if parallel else "sequential: y = x + attn(ln1(x)); y + mlp(ln2(y))"),
        ("rope", f"{rope_type(config)}, theta {rope_theta(config):g}, on the first ROT_DIM of HEAD_DIM elements of each head"),
        ("mlp", f"dense_4h_to_h(act(dense_h_to_4h(x))), act = {act} (MLP_ACT)"),
        ("lm head", "tied to the token embeddings" if tied else "untied (embed_out)")]})
    computed = _rope_plan(p, model, config, n_ctx)
    p.info["rotary_dims"] = p.consts["ROT_DIM"]
    plan_weights(p, table, sd, L, computed)
    return p


# ---------------------------------------------------------------------------
# quantization


def quantize_int8(w):
    """Symmetric per-output-channel int8.

    ``w`` is (..., in, out) for layer matrices (scale over the `in` axis, one per
    output column) or (rows, D) for embeddings/LM heads (one scale per row, the
    LM head's output channel). scale = max|w| / 127 (1.0 for an all-zero
    channel); q = clamp(round(w / scale), -127, 127); w ~= q * scale with
    |w - q * scale| <= scale / 2.
    """
    import torch

    return _quant(w, reduce_dim=-2 if w.dim() == 3 else -1)


def _quant(w, reduce_dim):
    import torch

    amax = w.abs().amax(dim=reduce_dim, keepdim=True)
    scale = torch.where(amax > 0, amax / 127.0, torch.ones_like(amax)).float()
    q = torch.clamp(torch.round(w / scale), -127, 127).to(torch.int8)
    return q, scale.squeeze(reduce_dim).contiguous()


# ---------------------------------------------------------------------------
# main entry


# the weight files from_pretrained looks for, in its order of preference (transformers'
# _get_resolved_checkpoint_files): the first one present is the one it reads
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
SAFETENSORS_HEADER_MAX = 100 << 20  # the safetensors library refuses larger headers too


def _plain_file_name(name: str) -> bool:
    return (name not in ("", ".", "..") and not any(c in name for c in "/\\\0")
            and not re.match(r"^[A-Za-z]:", name))


def shard_names(index: Path) -> list[str]:
    """The shard files an index's weight_map names. The hub writes them beside the index as plain
    file names (model-00001-of-00004.safetensors); anything else (../x, /abs, sub/x) would make
    from_pretrained read outside the model folder, and is refused."""
    data = read_json_object(index)
    wm = data.get("weight_map")
    if not isinstance(wm, dict) or not wm:
        raise TCError(f"{index}: weight_map must be a non-empty object mapping tensor names to shard file names, "
                      f"got {type(wm).__name__ if wm is not None else 'nothing'}")
    for key, v in wm.items():
        if not isinstance(v, str) or not _plain_file_name(v):
            raise TCError(f"{index}: weight_map[{key!r}] is {v!r}: a shard must be a plain file name beside the "
                          "index (no folders, no '..', not absolute)")
    return sorted(set(wm.values()))


def checkpoint_files(source: str) -> list[Path]:
    """The weight files from_pretrained will read (each checked by source_file to be inside the
    folder, or a hub cache blob); [] when there are none (from_pretrained says so)."""
    for name in WEIGHT_FILES:
        f = source_file(source, name, required=False)
        if f is None:
            continue
        if name.endswith(".index.json"):
            return [source_file(source, shard) for shard in shard_names(f)]
        return [f]
    return []


def checkpoint_shapes(files: list[Path]) -> dict[str, list[int]]:
    """Tensor name -> shape of the checkpoint, read without its data: safetensors headers, or a
    pickled state dict mapped onto the meta device."""
    import torch

    shapes: dict[str, list[int]] = {}
    for f in files:
        if f.name.endswith(".safetensors"):
            with open(f, "rb") as fh:
                head = fh.read(8)
                n = int.from_bytes(head, "little") if len(head) == 8 else -1
                if not 0 < n <= SAFETENSORS_HEADER_MAX:
                    raise TCError(f"{f}: not a safetensors file (header length {n})")
                header = parse_json(fh.read(n), f)
            if not isinstance(header, dict):
                raise TCError(f"{f}: not a safetensors file (the header is not a JSON object)")
            for name, t in header.items():
                if name != "__metadata__" and isinstance(t, dict) and isinstance(t.get("shape"), list):
                    shapes[name] = t["shape"]
        else:
            try:
                sd = torch.load(f, map_location="meta", weights_only=True, mmap=True)
            except Exception:  # an old (non-zip) torch.save: from_pretrained reports what it makes of it
                continue
            if isinstance(sd, dict):
                shapes.update({k: list(v.shape) for k, v in sd.items() if hasattr(v, "shape")})
    return shapes


def _shown(files: list[Path]) -> str:
    return files[0].name if len(files) == 1 else f"{len(files)} shards"


def check_layer_count(files: list[Path], shapes: dict, text_config) -> None:
    """Refuse a num_hidden_layers the checkpoint cannot hold (each layer has tensors of its own)
    before anything is sized by it: 10**9 layers would take minutes and gigabytes to refuse later."""
    layers = getattr(text_config, "num_hidden_layers", None)
    if shapes and isinstance(layers, int) and layers > len(shapes):
        raise TCError(f"config.json: num_hidden_layers={layers}, but the weights ({_shown(files)}) hold "
                      f"{len(shapes)} tensors in all: they lack most of those layers")


def check_weights_fit_config(files: list[Path], shapes: dict, cls, config) -> None:
    """Refuse a config.json whose sizes do not fit the checkpoint (shapes: checkpoint_shapes), by
    field, before from_pretrained builds the model: it would build every layer config.json asks for
    and report a mismatch only as "see the above report"."""
    import torch

    if not shapes:
        return
    shown = _shown(files)
    text = config.get_text_config()
    check_layer_count(files, shapes, text)
    from transformers.conversion_mapping import WeightRenaming, get_model_conversion_mapping
    from transformers.core_model_loading import rename_source_key

    with torch.device("meta"):
        model = cls(config)
    state = model.state_dict()
    # the files' names as from_pretrained reads them: a multimodal checkpoint's language_model.model.*
    # is the model's model.language_model.* (transformers' own renaming, not a copy of it)
    transforms = get_model_conversion_mapping(model)
    renamings = [t for t in transforms if isinstance(t, WeightRenaming)]
    converters = [t for t in transforms if not isinstance(t, WeightRenaming)]
    order = {name: n for n, name in enumerate(state)}
    misfits = []  # (the model's order, file name, file shape, config's shape)
    for key, shape in shapes.items():
        name, converted = rename_source_key(key, renamings, converters, model.base_model_prefix, state)
        if converted is not None or name not in state:
            continue  # merged or split on loading (its shape is not the file's), or not the model's
        if list(shape) != list(state[name].shape):
            misfits.append((order[name], key, list(shape), list(state[name].shape)))
    if misfits:
        _, key, shape, want = min(misfits)  # the first in the model, as the embedding before the head
        sizes = _int_fields(config.to_dict())
        fields = [k for k, v in sizes.items() if v in want and v not in shape]
        raise TCError(f"config.json does not fit the weights: {key} is {shape} in {shown}, but config.json "
                      f"makes it {want}" + (f" ({', '.join(f'{k}={sizes[k]}' for k in fields)})" if fields else ""))


def _int_fields(d: dict, prefix: str = "") -> dict:
    """config.json's integer fields by their path (text_config.hidden_size in a multimodal config)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_int_fields(v, f"{prefix}{k}."))
        elif isinstance(v, int) and not isinstance(v, bool):
            out[prefix + k] = v
    return out


def load_hf_model(source: str, arch: str, checkpoint: tuple[list[Path], dict] | None = None):
    """The HF model in f32 from any published form: model.safetensors, sharded safetensors
    (model.safetensors.index.json), pytorch_model.bin (read by transformers with
    torch.load(weights_only=True)), in f32, f16 or bf16. checkpoint: its files and their tensors'
    shapes, when the caller has read them already (checkpoint_files, checkpoint_shapes)."""
    import torch
    import transformers

    mm = multimodal_of(read_config(source)[0])
    cls = getattr(transformers, mm["hf_class"] if mm else SUPPORTED[arch])
    if checkpoint is None:
        files = checkpoint_files(source)
        checkpoint = (files, checkpoint_shapes(files))
    files, shapes = checkpoint
    try:
        if files:
            check_weights_fit_config(files, shapes, cls, transformers.AutoConfig.from_pretrained(source))
        model, info = cls.from_pretrained(source, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    except TCError:
        raise
    except Exception as e:
        msg = str(e).strip().splitlines()
        raise TCError(f"{source}: cannot load {cls.__name__} weights ({type(e).__name__}: {msg[0] if msg else ''})") from None
    # transformers fills a tensor the files lack with fresh random values and only logs it: a partial
    # download or a folder of another architecture would convert to noise
    missing = sorted(info.get("missing_keys") or [])
    if missing:
        raise TCError(f"{source}: the weights lack {len(missing)} tensor(s) that {cls.__name__} needs: "
                      f"{', '.join(missing[:3])}{', …' if len(missing) > 3 else ''} (an incomplete download, or "
                      f"weights of another architecture?)")
    # and drops a tensor the model has no place for, logging it: a config.json describing fewer layers
    # than the checkpoint holds would convert to a truncated model (old GPT-2 checkpoints also carry
    # the attention mask buffers, which are not weights)
    unused = sorted(k for k in info.get("unexpected_keys") or [] if not k.endswith(NOT_WEIGHTS))
    if unused:
        raise TCError(f"{source}: the weights hold {len(unused)} tensor(s) that {cls.__name__} as config.json describes "
                      f"it does not use: {', '.join(unused[:3])}{', …' if len(unused) > 3 else ''} (does config.json "
                      f"describe a smaller model than the checkpoint, e.g. its num_hidden_layers?)")
    return model.eval()


# buffers some checkpoints saved beside the weights (GPT-2's causal mask and its fill value, the
# rotary inverse frequencies of older Llama ones): transformers recomputes them
NOT_WEIGHTS = (".attn.bias", ".attn.masked_bias", ".rotary_emb.inv_freq")


def language_model_view(model, arch: str):
    """The text model (SUPPORTED[arch]) of a multimodal HF model, sharing its modules: its language
    model and LM head under the names the weight table uses (model.layers..., lm_head), built on the
    meta device so that nothing is copied. A text model is returned as it is."""
    import torch
    import transformers

    if not hasattr(getattr(model, "model", None), "language_model"):
        return model
    with torch.device("meta"):
        view = getattr(transformers, SUPPORTED[arch])(model.config.get_text_config())
    view.model, view.lm_head = model.model.language_model, model.lm_head
    return view.eval()


def state_dict_sha256(model) -> str:
    """sha256 over the model's state dict: for each name in sorted order, name bytes + f32 LE bytes."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(st_io.tensor_bytes(t.float()))
    return h.hexdigest()


def convert(source: str, out: Path, dtype: str = "f32", max_ctx: int | None = None,
            ignore_unknown: bool = False, quiet: bool = False) -> dict:
    if dtype not in DTYPES:
        raise TCError(f"--dtype {dtype!r}: expected one of {', '.join(DTYPES)}")
    if max_ctx is not None and max_ctx < 1:
        raise TCError("--max-ctx must be a positive integer")
    out = Path(out)
    prepare_output(out, convert_owner, WHAT)  # refuse before minutes of work, not after
    raw_cfg, raw_bytes = read_config(source)
    arch = architecture_of(raw_cfg)
    mm = multimodal_of(raw_cfg)
    check_numbers(raw_cfg.get("text_config", {}) if mm else raw_cfg,
                  "config.json: text_config" if mm else "config.json")
    check_tokenizer_files(source)
    step = Steps("convert", 5, quiet)
    step(f"loading the HF {arch} model (torch, transformers)")
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(source)
    except Exception as e:
        raise TCError(f"{source}: cannot parse config.json ({type(e).__name__}: {e})") from None
    if mm:  # the language model's config is text_config; the fields around it are about images
        check_multimodal_fields(raw_cfg, mm, ignore_unknown)
        config = config.get_text_config()
    check_config(arch, raw_cfg.get("text_config", {}) if mm else raw_cfg, config, ignore_unknown)
    checkpoint = checkpoint_files(source)
    shapes = checkpoint_shapes(checkpoint)
    check_layer_count(checkpoint, shapes, config)
    if arch != "gpt2":  # GPT-2's position table is a weight: check_weights_fit_config compares it
        n_ctx = min(max_ctx or config.max_position_embeddings, config.max_position_embeddings)
        check_position_tables(arch, config, n_ctx, max_ctx)
        if arch in LLAMA_LIKE:  # layer_types and contexts it cannot honour are refused before loading weights
            sliding_window(arch, config, n_ctx)
            longrope_limit(config)
    model = language_model_view(load_hf_model(source, arch, (checkpoint, shapes)), arch)
    sd = model.state_dict()
    if arch == "gpt2":
        plan = plan_gpt2(config, sd, max_ctx, dtype)
    elif arch == "gpt_neox":
        plan = plan_gpt_neox(config, sd, model, max_ctx)
    else:
        plan = plan_llama(config, sd, model, max_ctx, arch, dtype)

    import torch

    tensors: dict = {}
    extra_types = []
    meta: dict = {}
    tdtype = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}
    step(f"converting {len(plan.weights)} weights to {dtype}")
    for w in plan.weights:
        shape = [eval_dims(d, plan.consts) for d in w.dims]
        if list(w.tensor.shape) != shape:
            raise AssertionError(f"{w.name}: tensor shape {list(w.tensor.shape)} != type shape {shape}")
        entry = {"hf_names": [multimodal_name(n, mm) for n in w.hf_names], "transform": w.transform,
                 "type": w.type_name, "space": w.space}
        if w.note:
            entry["note"] = w.note
        if dtype == "int8" and w.quantize:
            q, s = quantize_int8(w.tensor)
            tensors[w.name] = q
            sname = f"{w.name}_scale"
            stype = w.scale_type
            sdims = [w.dims[0], w.dims[2]] if len(w.dims) == 3 else [w.dims[0]]
            tensors[sname] = s
            extra_types.append((stype, "f32", sdims, "Global", sname))
            meta[w.name] = dict(entry, quantization={"scheme": "symmetric-per-output-channel", "scale": sname})
            meta[sname] = {"hf_names": entry["hf_names"], "transform": f"int8 scale of {w.name}", "type": stype,
                           "space": "Global", "scale_of": w.name}
        else:  # integer tables (each layer's window) keep their type
            keep = w.tensor.dtype == torch.int32
            tensors[w.name] = (w.tensor if keep else w.tensor.to(tdtype.get(dtype, torch.float32))).contiguous()
            meta[w.name] = entry
    wdtypes = {n: st_io.dsl_dtype(t) for n, t in tensors.items()}
    # a stacked table's slice type (the rope tables are {N_ROPE, N_CTX, ROT_DIM/2}; rope takes one)
    slice_types = {r["name"]: r["slice_type"] for r in weight_table(arch) if "slice_type" in r}
    for w in plan.weights:
        if w.name in slice_types:
            extra_types.append((slice_types[w.name], wdtypes[w.name], w.dims[1:], w.space, w.name))
    model_ta = gen_model_ta(plan, wdtypes, extra_types)

    with atomic_dir(out, convert_owner, WHAT) as tmp:
        (tmp / "config.json").write_bytes(raw_bytes)
        step(f"writing {WEIGHTS_FILE}")
        info = st_io.write_aligned(tmp / WEIGHTS_FILE, tensors, metadata={"format": "pt", "tensorcore": FORMAT})
        (tmp / "model.ta").write_text(model_ta)
        tok_files = []
        for name in TOKENIZER_FILES:
            f = source_file(source, name, required=False)
            if f is not None:
                shutil.copyfile(f, tmp / name)
                tok_files.append(name)
        if "tokenizer.json" not in tok_files and not {"vocab.json", "merges.txt"} <= set(tok_files):
            print(f"warning: {source} has neither tokenizer.json nor vocab.json + merges.txt; copied "
                  f"{tok_files or 'no tokenizer files'} (generate needs a tokenizer)", file=sys.stderr)
        step("hashing the weights for the manifest")
        manifest = {
            "format": FORMAT,
            "written_by": WRITTEN_BY,
            "architecture": arch,
            "library": FAMILIES[arch][0],
            **({"language_model_of": {"model_type": raw_cfg["model_type"], "hf_class": mm["hf_class"],
                                      "left_out": "the vision tower and the multimodal projector"}} if mm else {}),
            "source": source,
            "dtype": dtype,
            "config_sha256": hashlib.sha256(raw_bytes).hexdigest(),
            "weights_sha256": st_io.sha256_file(tmp / WEIGHTS_FILE),
            "hf_state_dict_sha256": state_dict_sha256(model),
            "alignment": st_io.ALIGN,
            "consts": plan.consts,
            "model": {k: v for k, v in plan.info.items() if k != "comments"},
            "n_params": int(sum(p.numel() for p in model.parameters())),
            "tokenizer_files": tok_files,
            "tensors": {n: {"file": WEIGHTS_FILE, **info[n], **meta[n]} for n in tensors},
        }
        if dtype == "int8":
            manifest["quantization"] = {
                "scheme": "symmetric per-output-channel int8",
                "formula": "w = q * scale; scale = max|w| / 127 over the input axis (1.0 if all zero); q = clamp(round(w/scale), -127, 127)",
                "unquantized": "vectors, biases, norms, position tables stay f32",
            }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        step("verifying the folder's sha256s")
        verify_folder(tmp)
    if not quiet:
        print(f"converted {source} ({arch}, {dtype}) -> {out}: {len(tensors)} tensors, "
              f"{(out / WEIGHTS_FILE).stat().st_size} bytes", file=sys.stderr)
    return manifest


def convert_owner(folder: Path) -> str | None:
    """None when ``folder`` is one convert wrote (its manifest says so), else why it is not.

    Manifests from before the "written_by" field are recognised by the fields only convert writes.
    """
    m = Path(folder) / "manifest.json"
    if not m.is_file() or m.is_symlink():
        return "it is not empty and has no manifest.json"
    try:
        manifest = json.loads(m.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return "its manifest.json is not valid JSON"
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return f"its manifest.json is not a {FORMAT} manifest"
    if manifest.get("written_by") == WRITTEN_BY:
        return None
    if "written_by" not in manifest and all(k in manifest for k in ("config_sha256", "weights_sha256", "tensors")):
        return None
    return f"its manifest.json was written by {manifest.get('written_by')!r}, not {WRITTEN_BY!r}"


_DTYPE_BYTES = {"f32": 4, "f16": 2, "bf16": 2, "int8": 1, "int32": 4}


def read_manifest(folder: Path) -> dict:
    """A model folder's manifest.json, checked: field types, every file confined to the folder and a
    regular file, every tensor's byte range inside its file. No hashing (verify_folder does that)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TCError(f"{folder}: model folder not found")
    if not os.path.lexists(folder / "manifest.json"):
        raise TCError(f"{folder}: no manifest.json (not a TensorCore model folder)")
    mpath = confined_file(folder, "manifest.json", str(folder / "manifest.json"))
    shown = folder / "manifest.json"
    manifest = parse_json(read_small_file(mpath), shown, constants=False)
    if not isinstance(manifest, dict):
        raise TCError(f"{shown}: expected a JSON object, got {type(manifest).__name__}")
    if manifest.get("format") != FORMAT:
        raise TCError(f"{shown}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    for key in ("architecture", "dtype"):
        if key in manifest and not isinstance(manifest[key], str):
            raise TCError(f"{shown}: {key!r} must be a string, got {manifest[key]!r}")
    if "consts" in manifest and not isinstance(manifest["consts"], dict):
        raise TCError(f"{shown}: 'consts' must be an object, got {manifest['consts']!r}")
    tensors = manifest.get("tensors")
    if not isinstance(tensors, dict):
        raise TCError(f"{shown}: 'tensors' must be an object mapping names to tensors, got {tensors!r}")
    sizes: dict = {}
    for name, t in tensors.items():
        at = f"{shown}: tensors.{name}"
        if not isinstance(t, dict):
            raise TCError(f"{at}: expected an object, got {t!r}")
        for key in ("file", "dtype", "shape", "offset", "nbytes", "sha256"):
            if key not in t:
                raise TCError(f"{at}: {key!r} is missing")
        if not isinstance(t["dtype"], str) or t["dtype"] not in _DTYPE_BYTES:
            raise TCError(f"{at}.dtype: expected one of {', '.join(_DTYPE_BYTES)}, got {t['dtype']!r}")
        shape = t["shape"]
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise TCError(f"{at}.shape: expected a list of non-negative integers, got {shape!r}")
        for key in ("offset", "nbytes"):
            if not isinstance(t[key], int) or isinstance(t[key], bool) or t[key] < 0:
                raise TCError(f"{at}.{key}: expected a non-negative integer, got {t[key]!r}")
        count = 1
        for d in shape:
            count *= d
        if t["nbytes"] != count * _DTYPE_BYTES[t["dtype"]]:
            raise TCError(f"{at}.nbytes: {t['nbytes']}, but a {t['dtype']} tensor of shape {shape} has "
                          f"{count * _DTYPE_BYTES[t['dtype']]} bytes")
        if not isinstance(t["sha256"], str) or not re.fullmatch(r"[0-9a-f]{64}", t["sha256"]):
            raise TCError(f"{at}.sha256: expected 64 hex digits, got {t['sha256']!r}")
        f = confined_file(folder, t["file"], f"{at}.file")
        if f not in sizes:
            sizes[f] = f.stat().st_size
        if t["offset"] + t["nbytes"] > sizes[f]:
            raise TCError(f"{folder / t['file']}: truncated: tensor {name!r} needs bytes "
                          f"{t['offset']}..{t['offset'] + t['nbytes']}, the file has {sizes[f]}")
    return manifest


def tensor_path(folder: Path, manifest: dict, name: str) -> Path:
    """The real path of a (checked) manifest tensor's file."""
    return confined_file(Path(folder), manifest["tensors"][name]["file"], f"{Path(folder) / 'manifest.json'}: tensors.{name}.file")


def check_manifest_library(shown: Path, manifest: dict) -> None:
    """What the loader (models/causal-lm.ts) requires of a folder beyond its files: an architecture a
    library instantiates, a dtype it has kernels for, and every tensor and const the library's weight
    table lists, so that `hf verify` says ok only of folders `generate` loads."""
    arch = manifest.get("architecture", "gpt2")  # (folders from before the field were GPT-2's)
    if arch not in FAMILIES:
        raise TCError(f"{shown}: architecture {arch!r} is not one the libraries instantiate ({', '.join(sorted(FAMILIES))})")
    if manifest.get("dtype", "f32") not in DTYPES:
        raise TCError(f"{shown}: dtype {manifest.get('dtype')!r}, expected one of {', '.join(DTYPES)}")
    stale = "the folder was written by an older convert, or edited; convert the HF model again"
    missing = [r["name"] for r in weight_table(arch) if r["name"] not in manifest["tensors"]]
    if missing:
        raise TCError(f"{shown}: no tensor {', '.join(map(repr, missing))}, which models/{FAMILIES[arch][0]}/weights.json lists: {stale}")
    table = json.loads((REPO_ROOT / "models" / FAMILIES[arch][0] / "weights.json").read_text())
    consts = manifest.get("consts") or {}
    no_const = [c for c in table.get("consts", []) if c not in consts]
    if no_const:
        raise TCError(f"{shown}: no const {', '.join(map(repr, no_const))}, which models/{FAMILIES[arch][0]}/weights.json lists: {stale}")


def verify_folder(folder: Path) -> dict:
    """Check a DSL model folder: manifest structure and confinement (read_manifest), the config's
    sha256 and every tensor's sha256."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    check_manifest_library(folder / "manifest.json", manifest)
    cfg = folder / "config.json"
    if not os.path.lexists(cfg):
        raise TCError(f"{cfg}: missing")
    cfg_real = confined_file(folder, "config.json", str(cfg))
    if hashlib.sha256(cfg_real.read_bytes()).hexdigest() != manifest.get("config_sha256"):
        raise TCError(f"{cfg}: sha256 mismatch with manifest.json config_sha256 (modified?)")
    for name, t in manifest["tensors"].items():
        f = tensor_path(folder, manifest, name)
        if st_io.sha256_range(f, t["offset"], t["nbytes"]) != t["sha256"]:
            raise TCError(f"{folder / t['file']}: sha256 mismatch for tensor {name!r} (weight file corrupted or modified)")
    return manifest
