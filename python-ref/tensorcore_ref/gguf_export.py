"""HF model (GPT-2 or Llama) -> one GGUF file for llama.cpp (`tensorcore hf export-gguf`). Any other
model_type, and a config field that llama.cpp's gpt2 or llama would compute differently, is refused
by name (check_exportable).

Written with PyPI's `gguf` package (llama.cpp's own writer and quantizers), following the rules of
llama.cpp's convert_hf_to_gguf.py so that llama.cpp loads the file as it would its own conversion:

* names: token_embd, position_embd (GPT-2), output_norm, output (untied Llama only: a tied GPT-2
  head is left out and llama.cpp reuses token_embd), blk.N.{attn_norm, attn_qkv | attn_q/k/v,
  attn_output, ffn_norm, ffn_up, ffn_gate, ffn_down}.{weight,bias};
* GPT-2's Conv1D weights are stored [in, out] by HF and transposed to [out, in] (nn.Linear's order);
  Llama's q/k rows are permuted from HF's rotate-half layout to llama.cpp's interleaved-pair RoPE;
* dtype: 1-D tensors (norms, biases) and GPT-2's position table stay f32, every other matrix takes
  --dtype; a q8_0 matrix whose rows are not a multiple of 32 falls back to f16 (llama.cpp does too);
* tokenizer: byte-level BPE ("gpt2" model, "gpt-2" pre-tokenizer) from vocab.json + merges.txt or
  tokenizer.json; special added tokens are CONTROL; no BOS is added (GPT-2 never had one).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .convert import architecture_of, load_hf_model, read_config, source_file
from .errors import TCError

DTYPES = ("f32", "f16", "bf16", "q8_0")
ARCHS = ("gpt2", "llama")


def check_exportable(arch: str, cfg: dict) -> None:
    """Refuse, naming the field, what llama.cpp's gpt2 or llama architecture would compute differently.

    Another family (Mistral's window, Gemma's (1 + w) norms and scaled embeddings, Qwen's biases,
    Granite's multipliers, ...) is refused whole: llama.cpp's own conversion rewrites weights and
    metadata for each, which this exporter does not, and a file written as plain Llama would load
    and generate other tokens than the model's. Run on config.json as written (before the weights
    are read) and again on the config transformers resolves from it (defaults filled in, the rope
    parameters as HF builds them), which the file's metadata is written from.
    """
    if arch not in ARCHS:
        raise TCError(f"config.json: model_type {arch!r} is not exported to GGUF (export-gguf writes "
                      f"{' and '.join(ARCHS)}: llama.cpp's conversion of other families changes weights and "
                      "metadata that this exporter does not)")
    problems = []
    if arch == "gpt2":
        act = cfg.get("activation_function", "gelu_new")
        if act not in ("gelu_new", "gelu_pytorch_tanh"):
            problems.append(f"activation_function={act!r} (llama.cpp's GPT-2 computes the tanh GELU, gelu_new)")
        if cfg.get("scale_attn_by_inverse_layer_idx"):
            problems.append(f"scale_attn_by_inverse_layer_idx={cfg.get('scale_attn_by_inverse_layer_idx')!r}")
        if cfg.get("scale_attn_weights") is False:
            problems.append("scale_attn_weights=false")
    else:
        for key in ("rope_parameters", "rope_scaling"):  # (transformers reads either; both must be plain)
            rs = cfg.get(key) or {}
            kind = (rs.get("rope_type") or rs.get("type") or "default") if isinstance(rs, dict) else "default"
            if kind != "default":
                problems.append(f"rope type {kind!r} in {key} (plain RoPE only)")
        act = cfg.get("hidden_act", "silu")
        if act != "silu":
            problems.append(f"hidden_act={act!r} (llama.cpp's llama computes SiLU)")
        for field in ("attention_bias", "mlp_bias"):
            if cfg.get(field):
                problems.append(f"{field}={cfg.get(field)!r} (llama.cpp's llama architecture has no biases)")
        nh, nkv, hidden, hd = (cfg.get(k) for k in ("num_attention_heads", "num_key_value_heads", "hidden_size", "head_dim"))
        ints = {"num_attention_heads": nh, "hidden_size": hidden}
        bad = [f"{k}={v!r}" for k, v in ints.items() if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v <= 0)]
        if bad:
            problems.append(", ".join(bad) + " (positive integers expected)")
        elif nh is not None and hidden is not None:
            if hd is not None and hd * nh != hidden:
                problems.append(f"head_dim={hd!r} differs from hidden_size / num_attention_heads = {hidden} / {nh}")
            if isinstance(nkv, int) and nkv > 0 and nh % nkv:
                problems.append(f"num_key_value_heads={nkv} does not divide num_attention_heads={nh}")
    if problems:
        raise TCError("config.json: " + "; ".join(problems) + ": not exported to GGUF")


def _gguf():
    try:
        import gguf
    except ImportError:
        raise TCError("the Python package `gguf` is missing; run npm run setup (python-ref/requirements.txt)") from None
    return gguf


def _tokenizer(source: str) -> tuple[list[str], list[str], dict[int, str]]:
    """(tokens by id, merges as "a b", special added tokens id -> text)."""
    tj = source_file(source, "tokenizer.json", required=False)
    vocab_f = source_file(source, "vocab.json", required=False)
    merges_f = source_file(source, "merges.txt", required=False)
    special: dict[int, str] = {}
    if vocab_f and merges_f:
        vocab = json.loads(vocab_f.read_text(encoding="utf-8"))
        merges = [ln for ln in merges_f.read_text(encoding="utf-8").split("\n") if ln and not ln.startswith("#version")]
    elif tj:
        model = json.loads(tj.read_text(encoding="utf-8"))["model"]
        if model.get("type") != "BPE":
            raise TCError(f"{source}: tokenizer.json holds a {model.get('type')} model; only byte-level BPE is exported")
        vocab = model["vocab"]
        merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    else:
        raise TCError(f"{source}: no vocab.json + merges.txt nor tokenizer.json (a byte-level BPE tokenizer is needed)")
    if tj:
        for t in json.loads(tj.read_text(encoding="utf-8")).get("added_tokens", []):
            if t.get("special"):
                special[t["id"]] = t["content"]
    cfg_f = source_file(source, "tokenizer_config.json", required=False)
    if cfg_f:
        for k, t in json.loads(cfg_f.read_text(encoding="utf-8")).get("added_tokens_decoder", {}).items():
            if t.get("special"):
                special[int(k)] = t["content"]
    if not special and "<|endoftext|>" in vocab:  # GPT-2's only special token, when no config says so
        special[vocab["<|endoftext|>"]] = "<|endoftext|>"
    by_id = {i: t for t, i in vocab.items()}
    by_id.update(special)
    return by_id, merges, special


def _llama_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """HF's q/k rows (rotate-half RoPE: pairs (i, i + d/2)) -> llama.cpp's (pairs (2i, 2i+1))."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _tensors(arch: str, cfg: dict, sd: dict) -> list[tuple[str, np.ndarray, bool]]:
    """(gguf name, f32 array, follows --dtype) in llama.cpp's names and orientation."""
    a = {k: v.detach().float().numpy() for k, v in sd.items()}
    out: list[tuple[str, np.ndarray, bool]] = []
    if arch == "gpt2":
        p = "transformer."
        out += [("token_embd.weight", a[p + "wte.weight"], True), ("position_embd.weight", a[p + "wpe.weight"], False)]
        for i in range(cfg["n_layer"]):
            h = f"{p}h.{i}."
            b = f"blk.{i}."
            out += [(b + "attn_norm.weight", a[h + "ln_1.weight"], False), (b + "attn_norm.bias", a[h + "ln_1.bias"], False),
                    (b + "attn_qkv.weight", a[h + "attn.c_attn.weight"].T, True), (b + "attn_qkv.bias", a[h + "attn.c_attn.bias"], False),
                    (b + "attn_output.weight", a[h + "attn.c_proj.weight"].T, True), (b + "attn_output.bias", a[h + "attn.c_proj.bias"], False),
                    (b + "ffn_norm.weight", a[h + "ln_2.weight"], False), (b + "ffn_norm.bias", a[h + "ln_2.bias"], False),
                    (b + "ffn_up.weight", a[h + "mlp.c_fc.weight"].T, True), (b + "ffn_up.bias", a[h + "mlp.c_fc.bias"], False),
                    (b + "ffn_down.weight", a[h + "mlp.c_proj.weight"].T, True), (b + "ffn_down.bias", a[h + "mlp.c_proj.bias"], False)]
        out += [("output_norm.weight", a[p + "ln_f.weight"], False), ("output_norm.bias", a[p + "ln_f.bias"], False)]
        if not np.array_equal(a.get("lm_head.weight", a[p + "wte.weight"]), a[p + "wte.weight"]):
            out.append(("output.weight", a["lm_head.weight"], True))
        return out
    nh, nkv = cfg["num_attention_heads"], cfg.get("num_key_value_heads") or cfg["num_attention_heads"]
    out.append(("token_embd.weight", a["model.embed_tokens.weight"], True))
    for i in range(cfg["num_hidden_layers"]):
        h = f"model.layers.{i}."
        b = f"blk.{i}."
        for suffix in ("q", "k", "v", "o"):
            if h + f"self_attn.{suffix}_proj.bias" in a:
                raise TCError("Llama attention biases are not exported (llama.cpp's llama architecture has none)")
        out += [(b + "attn_norm.weight", a[h + "input_layernorm.weight"], False),
                (b + "attn_q.weight", _llama_permute(a[h + "self_attn.q_proj.weight"], nh), True),
                (b + "attn_k.weight", _llama_permute(a[h + "self_attn.k_proj.weight"], nkv), True),
                (b + "attn_v.weight", a[h + "self_attn.v_proj.weight"], True),
                (b + "attn_output.weight", a[h + "self_attn.o_proj.weight"], True),
                (b + "ffn_norm.weight", a[h + "post_attention_layernorm.weight"], False),
                (b + "ffn_gate.weight", a[h + "mlp.gate_proj.weight"], True),
                (b + "ffn_up.weight", a[h + "mlp.up_proj.weight"], True),
                (b + "ffn_down.weight", a[h + "mlp.down_proj.weight"], True)]
    out.append(("output_norm.weight", a["model.norm.weight"], False))
    # the head HF runs: lm_head unless it is the embeddings (transformers leaves a tie_word_embeddings
    # config untied when the file's lm_head differs), so decided from the weights, as GPT-2's above
    if "lm_head.weight" in a and not np.array_equal(a["lm_head.weight"], a["model.embed_tokens.weight"]):
        out.append(("output.weight", a["lm_head.weight"], True))
    return out


def export_gguf(source: str, out: Path, dtype: str = "f32", quiet: bool = False) -> Path:
    if dtype not in DTYPES:
        raise TCError(f"--dtype {dtype!r}: expected one of {', '.join(DTYPES)}")
    gguf = _gguf()
    Q = gguf.GGMLQuantizationType
    qtype = {"f32": Q.F32, "f16": Q.F16, "bf16": Q.BF16, "q8_0": Q.Q8_0}[dtype]
    ftype = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
             "bf16": gguf.LlamaFileType.MOSTLY_BF16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[dtype]
    out = Path(out).absolute()
    if out.is_dir():
        raise TCError(f"--out {out} is a folder: give the GGUF file's path")
    raw, _ = read_config(source)
    arch = architecture_of(raw)
    check_exportable(arch, raw)
    model = load_hf_model(source, arch)
    # the metadata comes from the config transformers runs (defaults filled in, rope parameters resolved)
    cfg = model.config.to_dict()
    check_exportable(arch, cfg)
    tensors = _tensors(arch, cfg, model.state_dict())
    by_id, merges, special = _tokenizer(source)
    n_vocab = cfg["vocab_size"]
    if max(by_id) >= n_vocab:
        raise TCError(f"{source}: tokenizer id {max(by_id)} is outside vocab_size {n_vocab}")

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.tmp-", dir=out.parent)
    os.close(fd)
    try:
        w = gguf.GGUFWriter(tmp, arch)
        w.add_name(Path(source).name or source)
        w.add_file_type(ftype)
        if arch == "gpt2":
            w.add_context_length(cfg["n_positions"])
            w.add_embedding_length(cfg["n_embd"])
            w.add_feed_forward_length(cfg.get("n_inner") or 4 * cfg["n_embd"])
            w.add_block_count(cfg["n_layer"])
            w.add_head_count(cfg["n_head"])
            w.add_layer_norm_eps(cfg["layer_norm_epsilon"])
        else:
            nh = cfg["num_attention_heads"]
            w.add_context_length(cfg["max_position_embeddings"])
            w.add_embedding_length(cfg["hidden_size"])
            w.add_feed_forward_length(cfg["intermediate_size"])
            w.add_block_count(cfg["num_hidden_layers"])
            w.add_head_count(nh)
            w.add_head_count_kv(cfg.get("num_key_value_heads") or nh)
            w.add_rope_dimension_count(cfg.get("head_dim") or cfg["hidden_size"] // nh)
            rs = cfg.get("rope_parameters") or {}
            theta = rs.get("rope_theta") if isinstance(rs, dict) and rs.get("rope_theta") is not None else cfg.get("rope_theta")
            if theta is None:
                raise TCError("config.json: no rope_theta in the config transformers resolves: not exported to GGUF")
            w.add_rope_freq_base(float(theta))
            w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
            w.add_vocab_size(n_vocab)
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("gpt-2")
        w.add_token_list([by_id.get(i, f"[PAD{i}]") for i in range(n_vocab)])
        T = gguf.TokenType
        w.add_token_types([T.CONTROL if i in special else T.NORMAL if i in by_id else T.UNUSED for i in range(n_vocab)])
        w.add_token_merges(merges)
        if cfg.get("bos_token_id") is not None:
            w.add_bos_token_id(cfg["bos_token_id"])
        if cfg.get("eos_token_id") is not None:
            w.add_eos_token_id(cfg["eos_token_id"])
        w.add_add_bos_token(False)

        for name, arr, follows in tensors:
            arr = np.ascontiguousarray(arr, dtype=np.float32)
            t = qtype if follows and arr.ndim == 2 else Q.F32
            if t == Q.Q8_0 and arr.shape[-1] % 32:
                t = Q.F16  # q8_0 blocks are 32 wide
            if t == Q.F32:
                w.add_tensor(name, arr)
            elif t == Q.F16:
                w.add_tensor(name, arr.astype(np.float16))
            else:
                # BF16 (round to nearest even) and Q8_0 by gguf's own quantizers, as uint8 bytes
                # (the writer turns their byte shape back into the element shape)
                w.add_tensor(name, gguf.quants.quantize(arr, t), raw_dtype=t)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if not quiet:
        import sys
        print(f"wrote {out} ({arch}, {dtype}, {len(tensors)} tensors, {out.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return out
