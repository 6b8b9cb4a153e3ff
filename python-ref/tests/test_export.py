"""export: file set, shapes, dtypes and values checked against HF/numpy computed here."""
import hashlib
import json
import tarfile

import numpy as np
import pytest
import torch

from tensorcore_ref import cosine_similarity, max_abs_diff

PROMPTS = ["The meaning of life is", "A day for firm decisions!!!"]
NEW = 5


@pytest.fixture(scope="session")
def prompts_file(work):
    p = work / "prompts.json"
    p.write_text(json.dumps(PROMPTS))
    return p


@pytest.fixture(scope="session")
def ref_gpt2(work, tiny_gpt2, prompts_file):
    from tensorcore_ref.export import export

    out = work / "ref-gpt2"
    export(str(tiny_gpt2), prompts_file, out, new_tokens=NEW, archive=True, quiet=True)
    return out


@pytest.fixture(scope="session")
def ref_llama(work, tiny_llama, prompts_file):
    from tensorcore_ref.export import export

    out = work / "ref-llama"
    export(str(tiny_llama), prompts_file, out, new_tokens=NEW, quiet=True)
    return out


def load(d, name):
    a = np.load(d / f"{name}.npy")
    assert a.dtype.byteorder in ("<", "=", "|")
    return a


def tokens_hf(folder, prompt):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)(prompt)["input_ids"]


def greedy_manual(model, ids, n):
    """Greedy decoding by hand: full forward each step (no cache), argmax of the last row."""
    ids = list(ids)
    out, gaps, rows = [], [], []
    for _ in range(n):
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, -1]
        top = torch.topk(logits, 2).values
        nxt = int(torch.argmax(logits))
        out.append(nxt)
        gaps.append(float(top[0] - top[1]))
        rows.append(logits.numpy())
        ids.append(nxt)
    return out, gaps, np.stack(rows)


def test_gpt2_reference_values(ref_gpt2, tiny_gpt2):
    from transformers import GPT2LMHeadModel

    model = GPT2LMHeadModel.from_pretrained(tiny_gpt2, attn_implementation="eager").eval()
    sd = model.state_dict()
    index = json.loads((ref_gpt2 / "index.json").read_text())
    assert index["format"] == "tensorcore-reference/1" and index["architecture"] == "gpt2"
    assert index["prompts"][0]["prompt"] == PROMPTS[0] and index["seed"] == 0
    assert set(index["versions"]) == {"transformers", "torch", "numpy"}
    assert index["softmax_check"]["passed"] and index["softmax_check"]["max_row_sum_deviation"] <= 1e-5
    for k, prompt in enumerate(PROMPTS):
        d = ref_gpt2 / f"p{k:03d}"
        ids = tokens_hf(tiny_gpt2, prompt)
        T, D, H, L = len(ids), 192, 6, 3
        assert index["prompts"][k]["n_tokens"] == T
        tok = load(d, "tokens")
        assert tok.dtype == np.int32 and tok.tolist() == ids
        np.testing.assert_array_equal(load(d, "tok_emb"), sd["transformer.wte.weight"].numpy()[ids])
        np.testing.assert_array_equal(load(d, "pos_emb"), sd["transformer.wpe.weight"].numpy()[:T])
        np.testing.assert_allclose(load(d, "layer0.input"), load(d, "tok_emb") + load(d, "pos_emb"), atol=1e-6)
        for i in range(L):
            x = load(d, f"layer{i}.input")
            assert x.shape == (T, D) and x.dtype == np.float32
            p = load(d, f"layer{i}.attn_probs")
            assert p.shape == (H, T, T)
            np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-5)
            assert np.all(np.triu(p, 1) == 0), "causal"
            # attention by hand from the HF weights: ln_1 -> c_attn -> softmax(QK^T/sqrt(d)) V -> c_proj
            h = torch.nn.functional.layer_norm(torch.from_numpy(x), (D,), sd[f"transformer.h.{i}.ln_1.weight"],
                                               sd[f"transformer.h.{i}.ln_1.bias"], 1e-5)
            qkv = h @ sd[f"transformer.h.{i}.attn.c_attn.weight"] + sd[f"transformer.h.{i}.attn.c_attn.bias"]
            q, kk, v = [t.reshape(T, H, D // H).transpose(0, 1) for t in qkv.split(D, dim=1)]
            s = q @ kk.transpose(1, 2) / np.sqrt(D // H)
            s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
            probs = torch.softmax(s, -1)
            np.testing.assert_allclose(p, probs.numpy(), atol=1e-5)
            a = (probs @ v).transpose(0, 1).reshape(T, D)
            a = a @ sd[f"transformer.h.{i}.attn.c_proj.weight"] + sd[f"transformer.h.{i}.attn.c_proj.bias"]
            np.testing.assert_allclose(load(d, f"layer{i}.attn_out"), a.numpy(), atol=1e-4)
            r = x + load(d, f"layer{i}.attn_out") + load(d, f"layer{i}.mlp_out")
            np.testing.assert_allclose(load(d, f"layer{i}.resid"), r, atol=1e-5)
            if i + 1 < L:
                np.testing.assert_array_equal(load(d, f"layer{i}.resid"), load(d, f"layer{i + 1}.input"))
        fn = torch.nn.functional.layer_norm(torch.from_numpy(load(d, f"layer{L - 1}.resid")), (D,),
                                            sd["transformer.ln_f.weight"], sd["transformer.ln_f.bias"], 1e-5)
        np.testing.assert_allclose(load(d, "final_norm"), fn.numpy(), atol=1e-5)
        logits = load(d, "logits")
        assert logits.shape == (T, 50257)
        np.testing.assert_allclose(logits, load(d, "final_norm") @ sd["transformer.wte.weight"].numpy().T, atol=1e-4)
        with torch.no_grad():
            np.testing.assert_allclose(logits, model(torch.tensor([ids])).logits[0].numpy(), atol=1e-5)
        probs = load(d, "probs")
        ex = np.exp(logits.astype(np.float64) - logits.max(-1, keepdims=True))
        np.testing.assert_allclose(probs, ex / ex.sum(-1, keepdims=True), atol=1e-6)
        assert load(d, "top1").tolist() == np.argmax(logits, -1).tolist()
        g, gaps, rows = greedy_manual(model, ids, NEW)
        assert load(d, "greedy").dtype == np.int32 and load(d, "greedy").tolist() == g
        np.testing.assert_allclose(load(d, "greedy_gap"), gaps, atol=1e-4)
        assert load(d, "greedy_logits").shape == (NEW, 50257)
        np.testing.assert_allclose(load(d, "greedy_logits"), rows, atol=1e-4)
        files = {f["name"] for f in index["prompts"][k]["files"]}
        assert files == {p.name for p in d.iterdir()}
        for f in index["prompts"][k]["files"]:
            assert hashlib.sha256((d / f["name"]).read_bytes()).hexdigest() == f["sha256"]


def test_dataset_bundle_and_archive(ref_gpt2):
    ds = json.loads((ref_gpt2 / "dataset.json").read_text())
    assert [p["prompt"] for p in ds["prompts"]] == PROMPTS
    for k, p in enumerate(ds["prompts"]):
        d = ref_gpt2 / p["id"]
        assert p["tokens"] == np.load(d / "tokens.npy").tolist()
        assert p["greedy"] == np.load(d / "greedy.npy").tolist() and len(p["greedy"]) == NEW
    tar = ref_gpt2.parent / "ref-gpt2.tar.gz"
    listing = json.loads((ref_gpt2 / "archive-manifest.json").read_text())["files"]
    with tarfile.open(tar) as tf:
        names = {m.name for m in tf.getmembers() if m.isfile()}
        assert {f"ref-gpt2/{n}" for n in listing} | {"ref-gpt2/archive-manifest.json"} == names
        for n, sha in listing.items():
            assert hashlib.sha256(tf.extractfile(f"ref-gpt2/{n}").read()).hexdigest() == sha


def test_llama_reference_values(ref_llama, tiny_llama):
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(tiny_llama, attn_implementation="eager").eval()
    sd = model.state_dict()
    for k, prompt in enumerate(PROMPTS):
        d = ref_llama / f"p{k:03d}"
        ids = tokens_hf(tiny_llama, prompt)
        T = len(ids)
        assert not (d / "pos_emb.npy").exists()
        inv = 1.0 / (10000.0 ** (np.arange(0, 16, 2) / 16))
        ang = np.arange(T)[:, None] * inv
        np.testing.assert_allclose(load(d, "rope_cos"), np.cos(ang), atol=1e-5)
        np.testing.assert_allclose(load(d, "rope_sin"), np.sin(ang), atol=1e-5)
        np.testing.assert_array_equal(load(d, "tok_emb"), sd["model.embed_tokens.weight"].numpy()[ids])
        for i in range(2):
            assert load(d, f"layer{i}.attn_probs").shape == (4, T, T)
            r = load(d, f"layer{i}.input") + load(d, f"layer{i}.attn_out") + load(d, f"layer{i}.mlp_out")
            np.testing.assert_allclose(load(d, f"layer{i}.resid"), r, atol=1e-5)
        x = torch.from_numpy(load(d, "layer1.resid")).double()
        rms = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * sd["model.norm.weight"].double()
        np.testing.assert_allclose(load(d, "final_norm"), rms.numpy(), atol=1e-5)
        np.testing.assert_allclose(load(d, "logits"), rms.numpy() @ sd["lm_head.weight"].double().numpy().T, atol=1e-4)
        g, _, _ = greedy_manual(model, ids, NEW)
        assert load(d, "greedy").tolist() == g


def test_export_from_dsl_folder_matches_hf_export(work, converted, prompts_file, ref_gpt2):
    """Exporting from the f32 DSL folder reproduces the HF export."""
    from tensorcore_ref.export import export

    out = work / "ref-gpt2-from-dsl"
    export(str(converted("gpt2", "f32")), prompts_file, out, new_tokens=NEW, quiet=True)
    for name in ("logits", "layer2.resid", "greedy"):
        a, b = np.load(out / "p000" / f"{name}.npy"), np.load(ref_gpt2 / "p000" / f"{name}.npy")
        assert max_abs_diff(a, b) < 1e-5
    a = json.loads((out / "index.json").read_text())
    b = json.loads((ref_gpt2 / "index.json").read_text())
    assert a["model_sha256"] == b["model_sha256"]


def test_plain_text_prompts(tmp_path):
    from tensorcore_ref.export import read_prompts

    f = tmp_path / "p.txt"
    f.write_text("first prompt\n\nsecond one\n")
    assert read_prompts(f) == ["first prompt", "second one"]


def test_compare_helpers():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    expect = float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))
    assert abs(cosine_similarity(a, b) - expect) < 1e-12
    assert abs(cosine_similarity(a, 3 * a) - 1.0) < 1e-12
    assert max_abs_diff(a, b) == float(np.abs(a - b).max())
    with pytest.raises(ValueError):
        max_abs_diff(a, b[:2])
