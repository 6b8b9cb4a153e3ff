"""make-model recipes and the committed embedded model folder."""
import hashlib
import json
import re

import numpy as np
import pytest

from conftest import manifest


def test_gpt2_124m_recipe_is_the_gpt2_config():
    from transformers import GPT2Config
    from tensorcore_ref.make_models import recipe

    c = GPT2Config(**recipe("gpt2-124m-random")["config"])
    assert (c.n_layer, c.n_embd, c.n_head, c.vocab_size, c.n_positions) == (12, 768, 12, 50257, 1024)
    assert c.activation_function == "gelu_new" and c.layer_norm_epsilon == 1e-5 and c.n_inner is None
    assert recipe("gpt2-124m-random")["seed"] == 0


def test_tiny_custom_config_tokenizer_and_reuse(tiny_gpt2):
    from tensorcore_ref.make_models import make_model

    cfg = json.loads((tiny_gpt2 / "config.json").read_text())
    assert (cfg["n_layer"], cfg["n_head"], cfg["n_embd"], cfg["vocab_size"]) == (3, 6, 192, 50257)
    assert cfg["architectures"] == ["GPT2LMHeadModel"]
    for f in ("vocab.json", "merges.txt", "tokenizer_config.json"):
        assert (tiny_gpt2 / f).is_file()
    from transformers import AutoTokenizer
    assert AutoTokenizer.from_pretrained(tiny_gpt2)("Hello world")["input_ids"] == [15496, 995]
    before = (tiny_gpt2 / "model.safetensors").stat().st_mtime_ns
    assert make_model("gpt2-tiny-custom", tiny_gpt2, quiet=True, layers=3, heads=6, width=192, ctx=64) == tiny_gpt2
    assert (tiny_gpt2 / "model.safetensors").stat().st_mtime_ns == before  # reused, not rebuilt


def test_seeded_builds_are_identical(tmp_path, tiny_llama):
    from tensorcore_ref.make_models import make_model

    again = make_model("tiny-llama-random", tmp_path / "again", quiet=True)
    a = hashlib.sha256((again / "model.safetensors").read_bytes()).hexdigest()
    b = hashlib.sha256((tiny_llama / "model.safetensors").read_bytes()).hexdigest()
    assert a == b
    cfg = json.loads((tiny_llama / "config.json").read_text())
    assert (cfg["num_hidden_layers"], cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"],
            cfg["intermediate_size"], cfg["max_position_embeddings"]) == (2, 64, 4, 2, 128, 128)
    assert cfg["rope_parameters"]["rope_theta"] == 10000.0


def test_rebuilds_when_weights_changed(tmp_path):
    from tensorcore_ref.make_models import make_model

    out = make_model("gpt2-tiny-custom", tmp_path / "m", quiet=True, layers=1, heads=2, width=16, ctx=16)
    good = (out / "model.safetensors").read_bytes()
    (out / "model.safetensors").write_bytes(good[:-4] + b"\0\0\0\0")
    make_model("gpt2-tiny-custom", out, quiet=True, layers=1, heads=2, width=16, ctx=16)
    assert (out / "model.safetensors").read_bytes() == good


def test_embedded_folder(embedded):
    m = manifest(embedded)
    assert m["format"] == "tensorcore-model/1" and m["architecture"] == "gpt2" and m["dtype"] == "f16"
    size = sum(f.stat().st_size for f in embedded.iterdir() if f.is_file())
    assert size < 10_000_000, size
    text = (embedded / "model.ta").read_text()
    consts = dict(re.findall(r"^const (\w+) = ([^;]+);$", text, re.M))
    cfg = json.loads((embedded / "config.json").read_text())
    assert consts["VOCAB"] == "50257" == str(cfg["vocab_size"])
    assert consts["D_MODEL"] == str(cfg["n_embd"]) and consts["N_LAYER"] == str(cfg["n_layer"])
    assert consts["N_CTX"] == str(cfg["n_positions"]) and consts["N_HEAD"] == str(cfg["n_head"])
    for t in m["tensors"].values():
        assert t["dtype"] == "f16" and t["offset"] % 64 == 0
    for f in ("vocab.json", "merges.txt", "samples.txt", "training-log.json", "loss.png", "weights.safetensors"):
        assert (embedded / f).is_file(), f
    log = json.loads((embedded / "training-log.json").read_text())
    assert log["hparams"]["seed"] == 0 and log["final_val_loss"] < log["steps"][0]["loss"]


def test_embedded_round_trip_through_hf(embedded, tmp_path):
    """models/embedded -> HF (make-model embedded) -> convert --dtype f16 gives the same bytes."""
    from tensorcore_ref.convert import convert
    from tensorcore_ref.make_models import make_model

    hf = make_model("embedded", tmp_path / "hf", quiet=True)
    out = tmp_path / "again"
    convert(str(hf), out, dtype="f16", quiet=True)
    a, b = manifest(embedded), manifest(out)
    assert {n: t["sha256"] for n, t in a["tensors"].items()} == {n: t["sha256"] for n, t in b["tensors"].items()}
    assert (out / "model.ta").read_text() == (embedded / "model.ta").read_text()


def test_embedded_generates_english_words(embedded, tmp_path):
    """The embedded model's greedy continuation is made of real words from the corpus vocabulary."""
    import json as _j
    from tensorcore_ref.export import export

    p = tmp_path / "p.json"
    p.write_text(_j.dumps(["The meaning of life is"]))
    export(str(embedded), p, tmp_path / "ref", new_tokens=12, quiet=True)
    ds = _j.loads((tmp_path / "ref" / "dataset.json").read_text())
    words = re.findall(r"[A-Za-z]+", ds["prompts"][0]["greedy_text"])
    assert len(words) >= 4
    probs = np.load(tmp_path / "ref" / "p000" / "probs.npy")
    assert probs.shape == (5, 50257)
