"""export-gguf: the file read back with the `gguf` package (independent of the writer's code path).

Checks, per model and dtype: llama.cpp's names and shapes, each tensor's values against the HF
weights under the dtype's own rounding rule (written out here in numpy), the tokenizer metadata, and
that a plain numpy forward pass over the tensors *as read from the file* (llama.cpp's layout:
[out, in] matrices, interleaved-pair RoPE for Llama) generates HF's greedy tokens for 16 steps.
llama.cpp itself loading these files is tests/e2e/gguf.e2e.ts (needs the bench's node-llama-cpp).
"""
import numpy as np
import pytest
import torch

from conftest import hf_state_dict

gguf = pytest.importorskip("gguf")

PROMPT = [464, 2068, 7586, 21831, 18045, 625]
STEPS = 16


@pytest.fixture(scope="session")
def hf_embedded(work, embedded):
    from tensorcore_ref.make_models import make_model

    return make_model("embedded", work / "hf-embedded", quiet=True)


@pytest.fixture(scope="session")
def exported(work):
    from tensorcore_ref.gguf_export import export_gguf

    cache = {}

    def get(src, dtype):
        key = (str(src), dtype)
        if key not in cache:
            cache[key] = export_gguf(str(src), work / f"{src.name}-{dtype}.gguf", dtype=dtype, quiet=True)
        return cache[key]

    return get


def read(path):
    """name -> (type name, float32 array in numpy [rows, cols] order)."""
    r = gguf.GGUFReader(str(path))
    out = {}
    for t in r.tensors:
        a = gguf.quants.dequantize(t.data, t.tensor_type)
        shape = [int(x) for x in reversed(t.shape)]  # GGUF lists ne0 (the row length) first
        out[t.name] = (t.tensor_type.name, np.asarray(a, dtype=np.float32).reshape(shape))
    return r, out


def field(r, name):
    f = r.fields[name]
    v = f.parts[f.data[0]]
    return bytes(v).decode() if f.types[0] == gguf.GGUFValueType.STRING else v.tolist()[0]


def hf_greedy(src, steps=STEPS):
    from transformers import AutoModelForCausalLM

    m = AutoModelForCausalLM.from_pretrained(str(src), dtype=torch.float32, attn_implementation="eager").eval()
    m.generation_config.eos_token_id = None
    with torch.no_grad():
        g = m.generate(torch.tensor([PROMPT]), attention_mask=torch.ones(1, len(PROMPT), dtype=torch.long),
                       max_new_tokens=steps, min_new_tokens=steps, do_sample=False, pad_token_id=0)
    return g[0, len(PROMPT):].tolist()


def ln(x, w, b, eps):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * w + b


def softmax_causal_attention(q, k, v, n_head, n_kv):
    T, D = q.shape
    hd = D // n_head
    out = np.zeros_like(q)
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for h in range(n_head):
        g = h // (n_head // n_kv)
        qh, kh, vh = q[:, h * hd:(h + 1) * hd], k[:, g * hd:(g + 1) * hd], v[:, g * hd:(g + 1) * hd]
        s = qh @ kh.T / np.sqrt(hd) + mask
        p = np.exp(s - s.max(-1, keepdims=True))
        out[:, h * hd:(h + 1) * hd] = (p / p.sum(-1, keepdims=True)) @ vh
    return out


def gpt2_logits(t, r, ids):
    W = lambda n: t[n][1].astype(np.float64)  # noqa: E731
    eps = field(r, "gpt2.attention.layer_norm_epsilon")
    nh = field(r, "gpt2.attention.head_count")
    x = W("token_embd.weight")[ids] + W("position_embd.weight")[: len(ids)]
    for i in range(field(r, "gpt2.block_count")):
        b = f"blk.{i}."
        h = ln(x, W(b + "attn_norm.weight"), W(b + "attn_norm.bias"), eps)
        qkv = h @ W(b + "attn_qkv.weight").T + W(b + "attn_qkv.bias")
        q, k, v = np.split(qkv, 3, axis=-1)
        x = x + softmax_causal_attention(q, k, v, nh, nh) @ W(b + "attn_output.weight").T + W(b + "attn_output.bias")
        h = ln(x, W(b + "ffn_norm.weight"), W(b + "ffn_norm.bias"), eps)
        u = h @ W(b + "ffn_up.weight").T + W(b + "ffn_up.bias")
        u = 0.5 * u * (1 + np.tanh(np.sqrt(2 / np.pi) * (u + 0.044715 * u ** 3)))
        x = x + u @ W(b + "ffn_down.weight").T + W(b + "ffn_down.bias")
    x = ln(x, W("output_norm.weight"), W("output_norm.bias"), eps)
    head = W("output.weight") if "output.weight" in t else W("token_embd.weight")
    return x @ head.T


def llama_logits(t, r, ids):
    W = lambda n: t[n][1].astype(np.float64)  # noqa: E731
    eps = field(r, "llama.attention.layer_norm_rms_epsilon")
    nh, nkv = field(r, "llama.attention.head_count"), field(r, "llama.attention.head_count_kv")
    base = field(r, "llama.rope.freq_base")
    rms = lambda x, w: x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w  # noqa: E731

    def rope(x, heads):
        # llama.cpp's "normal" RoPE: pairs (2i, 2i+1) of each head rotate by pos * base^(-2i/hd)
        T, D = x.shape
        hd = D // heads
        th = np.arange(T)[:, None] * base ** (-np.arange(0, hd, 2) / hd)[None, :]
        x = x.reshape(T, heads, hd // 2, 2)
        c, s = np.cos(th)[:, None, :], np.sin(th)[:, None, :]
        return np.stack([x[..., 0] * c - x[..., 1] * s, x[..., 0] * s + x[..., 1] * c], -1).reshape(T, D)

    x = W("token_embd.weight")[ids]
    for i in range(field(r, "llama.block_count")):
        b = f"blk.{i}."
        h = rms(x, W(b + "attn_norm.weight"))
        q, k, v = (h @ W(b + f"attn_{n}.weight").T for n in "qkv")
        x = x + softmax_causal_attention(rope(q, nh), rope(k, nkv), v, nh, nkv) @ W(b + "attn_output.weight").T
        h = rms(x, W(b + "ffn_norm.weight"))
        g = h @ W(b + "ffn_gate.weight").T
        x = x + ((g / (1 + np.exp(-g))) * (h @ W(b + "ffn_up.weight").T)) @ W(b + "ffn_down.weight").T
    return rms(x, W("output_norm.weight")) @ W("output.weight").T


def greedy(forward, t, r, steps=STEPS):
    ids = list(PROMPT)
    for _ in range(steps):
        ids.append(int(np.argmax(forward(t, r, ids)[-1])))
    return ids[len(PROMPT):]


def expected_after(dtype, x):
    """The dtype's rounding of x, written out independently of gguf's quantizers."""
    if dtype == "F32":
        return x, 0.0
    if dtype == "F16":
        return x.astype(np.float16).astype(np.float32), 0.0
    if dtype == "BF16":
        return torch.from_numpy(x).to(torch.bfloat16).float().numpy(), 0.0
    # Q8_0: blocks of 32 along each row, scale d = max|x| / 127 (stored as f16), q = round(x / d) in int8.
    # Ties and the f16 scale make the exact bits implementation-defined, so check the error bound:
    # |x - d16*q| <= d/2 + 127 * |d - d16|  (a half step, plus the scale's own rounding).
    blocks = x.reshape(-1, 32)
    d = np.abs(blocks).max(-1, keepdims=True) / 127
    d16 = d.astype(np.float16).astype(np.float32)
    bound = d / 2 + 127 * np.abs(d - d16) + 1e-7
    return None, np.broadcast_to(bound, blocks.shape).reshape(x.shape)


GPT2_NAMES = {"token_embd.weight": ("transformer.wte.weight", False), "position_embd.weight": ("transformer.wpe.weight", False),
              "output_norm.weight": ("transformer.ln_f.weight", False), "output_norm.bias": ("transformer.ln_f.bias", False)}
for _hf, _g in (("ln_1", "attn_norm"), ("ln_2", "ffn_norm")):
    for _p in ("weight", "bias"):
        GPT2_NAMES[f"blk.0.{_g}.{_p}"] = (f"transformer.h.0.{_hf}.{_p}", False)
for _hf, _g in (("attn.c_attn", "attn_qkv"), ("attn.c_proj", "attn_output"), ("mlp.c_fc", "ffn_up"), ("mlp.c_proj", "ffn_down")):
    GPT2_NAMES[f"blk.0.{_g}.weight"] = (f"transformer.h.0.{_hf}.weight", True)  # Conv1D [in, out] -> [out, in]
    GPT2_NAMES[f"blk.0.{_g}.bias"] = (f"transformer.h.0.{_hf}.bias", False)


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16", "q8_0"])
def test_gpt2_tensors_and_metadata(tiny_gpt2, exported, dtype):
    r, t = read(exported(tiny_gpt2, dtype))
    sd = {k: v.float().numpy() for k, v in hf_state_dict(tiny_gpt2).items()}
    assert field(r, "general.architecture") == "gpt2"
    assert field(r, "gpt2.block_count") == 3 and field(r, "gpt2.embedding_length") == 192
    assert field(r, "gpt2.attention.head_count") == 6 and field(r, "gpt2.context_length") == 64
    assert field(r, "gpt2.feed_forward_length") == 4 * 192
    assert field(r, "tokenizer.ggml.model") == "gpt2" and field(r, "tokenizer.ggml.pre") == "gpt-2"
    toks = r.fields["tokenizer.ggml.tokens"]
    assert len(toks.data) == 50257
    assert bytes(toks.parts[toks.data[50256]]).decode() == "<|endoftext|>"
    assert bytes(toks.parts[toks.data[262]]).decode() == "Ġthe"  # GPT-2's " the"
    tt = r.fields["tokenizer.ggml.token_type"]
    assert tt.parts[tt.data[50256]][0] == gguf.TokenType.CONTROL
    assert tt.parts[tt.data[262]][0] == gguf.TokenType.NORMAL
    assert "output.weight" not in t  # tied head: llama.cpp reuses token_embd
    assert len(t) == 4 + 3 * 12
    want_type = {"f32": "F32", "f16": "F16", "bf16": "BF16", "q8_0": "Q8_0"}[dtype]
    for name, (hf, transpose) in GPT2_NAMES.items():
        ty, got = t[name]
        x = sd[hf].T.copy() if transpose else sd[hf]
        matrix = x.ndim == 2 and name != "position_embd.weight"
        assert ty == (want_type if matrix else "F32"), name
        assert got.shape == x.shape, name
        exact, bound = expected_after(ty, x)
        if exact is not None:
            np.testing.assert_array_equal(got, exact, err_msg=name)
        else:
            assert np.all(np.abs(got - x) <= bound), name


def test_gpt2_greedy_from_file_equals_hf(tiny_gpt2, exported):
    r, t = read(exported(tiny_gpt2, "f32"))
    assert greedy(gpt2_logits, t, r) == hf_greedy(tiny_gpt2)


def test_embedded_greedy_from_file_equals_hf(hf_embedded, exported):
    # the committed model's weights are f16 values, so its f16 export is lossless: both files are it
    want = hf_greedy(hf_embedded)
    for dtype in ("f32", "f16"):
        r, t = read(exported(hf_embedded, dtype))
        assert greedy(gpt2_logits, t, r) == want, dtype


def test_llama_layout_and_greedy(tiny_llama, exported):
    r, t = read(exported(tiny_llama, "f32"))
    assert field(r, "general.architecture") == "llama"
    assert field(r, "llama.attention.head_count") == 4 and field(r, "llama.attention.head_count_kv") == 2
    assert field(r, "llama.rope.dimension_count") == 16
    assert "output.weight" in t  # untied
    sd = {k: v.float().numpy() for k, v in hf_state_dict(tiny_llama).items()}
    # v is stored as is; q's rows are permuted (so they differ) but hold the same values
    np.testing.assert_array_equal(t["blk.0.attn_v.weight"][1], sd["model.layers.0.self_attn.v_proj.weight"])
    q = sd["model.layers.0.self_attn.q_proj.weight"]
    assert not np.array_equal(t["blk.0.attn_q.weight"][1], q)
    np.testing.assert_array_equal(np.sort(t["blk.0.attn_q.weight"][1], 0), np.sort(q, 0))
    # the interleaved-pair RoPE over the permuted rows computes HF's rotate-half model
    assert greedy(llama_logits, t, r) == hf_greedy(tiny_llama)


def test_q8_0_short_rows_fall_back_to_f16(work, exported):
    from tensorcore_ref.make_models import make_model

    src = make_model("gpt2-tiny-custom", work / "hf-gpt2-w48", quiet=True, layers=1, heads=2, width=48, ctx=16)
    _, t = read(exported(src, "q8_0"))
    assert t["token_embd.weight"][0] == "F16"  # rows of 48: not a multiple of 32
    assert t["blk.0.ffn_up.weight"][0] == "F16"  # rows of 48
    assert t["blk.0.ffn_down.weight"][0] == "Q8_0"  # rows of 192


def test_bad_dtype(tiny_gpt2, work):
    from tensorcore_ref.errors import TCError
    from tensorcore_ref.gguf_export import export_gguf

    with pytest.raises(TCError, match="--dtype"):
        export_gguf(str(tiny_gpt2), work / "x.gguf", dtype="int8", quiet=True)
    assert not (work / "x.gguf").exists()


def _config_only(src, dst, **edits):
    """A folder with src's config.json, edited (the export refuses before it reads any weight)."""
    import json

    dst.mkdir(parents=True, exist_ok=True)
    cfg = json.loads((src / "config.json").read_text())
    cfg.update(edits)
    (dst / "config.json").write_text(json.dumps(cfg))
    return dst


@pytest.mark.parametrize("model_type,cls", [("mistral", "MistralForCausalLM"), ("gemma", "GemmaForCausalLM"),
                                            ("qwen2", "Qwen2ForCausalLM"), ("granite", "GraniteForCausalLM"),
                                            ("phi3", "Phi3ForCausalLM"), ("gpt_neox", "GPTNeoXForCausalLM")])
def test_other_families_are_refused_by_model_type(tiny_llama, work, model_type, cls):
    # (before: Gemma, Mistral and Granite were written as plain Llama, which llama.cpp would run
    # without their norms, windows or multipliers; Phi-3 and GPT-NeoX stopped with a KeyError)
    from tensorcore_ref.errors import TCError
    from tensorcore_ref.gguf_export import export_gguf

    src = _config_only(tiny_llama, work / f"cfg-{model_type}", model_type=model_type, architectures=[cls])
    out = work / f"{model_type}.gguf"
    with pytest.raises(TCError, match=f"model_type '{model_type}' is not exported to GGUF"):
        export_gguf(str(src), out, quiet=True)
    assert not out.exists() and not list(work.glob(f".{model_type}.gguf.tmp-*"))


@pytest.mark.parametrize("edits,said", [
    ({"attention_bias": True}, "attention_bias=True"), ({"mlp_bias": "false"}, "mlp_bias='false'"),
    ({"hidden_act": "gelu"}, "hidden_act='gelu'"), ({"head_dim": 8}, "head_dim=8 differs from hidden_size"),
    ({"rope_scaling": {"rope_type": "linear", "factor": 2.0}}, "rope type 'linear' in rope_scaling"),
    ({"num_key_value_heads": 3}, "num_key_value_heads=3 does not divide num_attention_heads=4"),
    ({"num_attention_heads": "4"}, "num_attention_heads='4' \\(positive integers expected\\)"),
])
def test_llama_fields_llama_cpp_would_compute_otherwise_are_refused(tiny_llama, work, edits, said):
    from tensorcore_ref.errors import TCError
    from tensorcore_ref.gguf_export import export_gguf

    src = _config_only(tiny_llama, work / f"cfg-llama-{next(iter(edits))}", **edits)
    with pytest.raises(TCError, match=f"config.json: {said}.*not exported to GGUF"):
        export_gguf(str(src), work / "refused.gguf", quiet=True)


def test_llama_head_decided_from_the_weights(tiny_llama, work, exported):
    # tie_word_embeddings=true beside an lm_head that differs: transformers runs lm_head (it leaves
    # such a model untied), so the file must carry it as output.weight
    import shutil

    src = work / "llama-tie-true"
    shutil.copytree(tiny_llama, src)
    cfg = __import__("json").loads((src / "config.json").read_text())
    cfg["tie_word_embeddings"] = True
    (src / "config.json").write_text(__import__("json").dumps(cfg))
    _, t = read(exported(src, "f32"))
    assert "output.weight" in t
    sd = {k: v.float().numpy() for k, v in hf_state_dict(tiny_llama).items()}
    np.testing.assert_array_equal(t["output.weight"][1], sd["lm_head.weight"])
    r, t = read(exported(src, "f32"))
    assert greedy(llama_logits, t, r) == hf_greedy(src)  # what transformers itself runs from that folder


def test_out_folder_refused_before_any_work(tiny_llama, work):
    from tensorcore_ref.errors import TCError
    from tensorcore_ref.gguf_export import export_gguf

    (work / "a-folder.gguf").mkdir(exist_ok=True)
    with pytest.raises(TCError, match="a-folder.gguf is a folder"):
        export_gguf(str(tiny_llama), work / "a-folder.gguf", quiet=True)


def test_gpt2_exact_gelu_is_refused(tiny_gpt2, work):
    from tensorcore_ref.errors import TCError
    from tensorcore_ref.gguf_export import export_gguf

    src = _config_only(tiny_gpt2, work / "cfg-gpt2-gelu", activation_function="gelu")
    with pytest.raises(TCError, match=r"activation_function='gelu' \(llama.cpp's GPT-2 computes the tanh GELU"):
        export_gguf(str(src), work / "refused.gguf", quiet=True)
