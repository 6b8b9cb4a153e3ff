"""Bad input: one clear `error:` line, exit status 2, and no half-written output folder."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tensorcore_ref.cli import main
from conftest import leftovers


def run_cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    return rc, err


def config_only_copy(src: Path, dst: Path, **changes) -> Path:
    """A copy of an HF folder with some config.json fields changed (None deletes)."""
    shutil.copytree(src, dst)
    cfg = json.loads((dst / "config.json").read_text())
    for k, v in changes.items():
        if v is None:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    (dst / "config.json").write_text(json.dumps(cfg, indent=2))
    return dst


def assert_clean_failure(rc, err, out: Path, *needles):
    assert rc == 2, err
    lines = [l for l in err.strip().splitlines() if l.strip()]
    assert lines and lines[-1].startswith("error: "), err
    for n in needles:
        assert n in err, (n, err)
    assert not out.exists(), f"{out} was created"
    assert leftovers(out.parent, out.name) == []


def test_missing_folder(tmp_path, capsys):
    out = tmp_path / "out"
    rc, err = run_cli(capsys, "convert", tmp_path / "no-such-model", "--out", out)
    assert_clean_failure(rc, err, out, "model folder not found")


def test_folder_without_config(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    rc, err = run_cli(capsys, "convert", tmp_path / "empty", "--out", out)
    assert_clean_failure(rc, err, out, "no config.json")


@pytest.mark.parametrize("changes,needle", [
    ({"model_type": "bert", "architectures": ["BertForMaskedLM"]}, "unsupported architecture"),
    ({"architectures": ["GPT2ForSequenceClassification"]}, "unsupported architecture 'GPT2ForSequenceClassification'"),
    ({"rotary_dim": 16}, "unknown gpt2 config field(s) rotary_dim"),
    ({"activation_function": "relu"}, "activation_function='relu' is not supported"),
    ({"scale_attn_by_inverse_layer_idx": True}, "scale_attn_by_inverse_layer_idx"),
    ({"tie_word_embeddings": False}, "tie_word_embeddings=false"),
])
def test_gpt2_config_rejected(tiny_gpt2, tmp_path, capsys, changes, needle):
    src = config_only_copy(tiny_gpt2, tmp_path / "src", **changes)
    out = tmp_path / "out"
    rc, err = run_cli(capsys, "convert", src, "--out", out)
    assert_clean_failure(rc, err, out, needle)


@pytest.mark.parametrize("changes,needle", [
    ({"rope_parameters": {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 2.0,
                          "original_max_position_embeddings": 64}}, "rope type 'yarn' is not supported"),
    ({"rope_parameters": {"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 2.0}}, "rope type 'dynamic' is not supported"),
    ({"hidden_act": "gelu_fast"}, "hidden_act='gelu_fast' is not supported"),
    ({"model_type": "falcon", "architectures": ["FalconForCausalLM"]}, "unsupported architecture: model_type 'falcon'"),
    ({"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "use_mrope": True}, "use_mrope=true"),
    ({"model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"], "rope_scaling": {"rope_type": "yarn", "factor": 4.0,
      "original_max_position_embeddings": 32}}, "rope type 'yarn' is not supported"),
    # Phi-3.5 / Phi-4-mini's LongRoPE picks short or long factors by the sequence's length against
    # original_max_position_embeddings: without a usable one there is nothing to pick by
    ({"model_type": "phi3", "architectures": ["Phi3ForCausalLM"], "rope_parameters": None, "rope_scaling": {"type": "longrope",
      "short_factor": [1.0] * 8, "long_factor": [2.0] * 8}, "original_max_position_embeddings": -16},
     "rope type longrope needs original_max_position_embeddings (a positive integer), not -16"),
    ({"model_type": "phi3", "architectures": ["Phi3ForCausalLM"], "rope_parameters": None, "partial_rotary_factor": 0.1},
     "partial_rotary_factor=0.1 gives 1 rotary dimensions of 16"),
    # a folder of another architecture under this model_type: Phi3ForCausalLM finds no qkv_proj
    ({"model_type": "phi3", "architectures": ["Phi3ForCausalLM"]}, "the weights lack 4 tensor(s) that Phi3ForCausalLM needs"),
    # GPT-NeoX: 16-wide heads with rotary_pct 0.2 rotate 3 dimensions (RoPE turns pairs)
    ({"model_type": "gpt_neox", "architectures": ["GPTNeoXForCausalLM"], "rotary_pct": 0.2, "hidden_act": "gelu",
      "layer_norm_eps": 1e-5}, "gives 3 rotary dimensions of 16"),
])
def test_llama_config_rejected(tiny_llama, tmp_path, capsys, changes, needle):
    src = config_only_copy(tiny_llama, tmp_path / "src", **changes)
    out = tmp_path / "out"
    # other families' configs carry Llama fields here: the refusal under test is not the unknown-field one
    rc, err = run_cli(capsys, "convert", src, "--out", out, "--ignore-unknown-config")
    assert_clean_failure(rc, err, out, needle)


GEMMA3_MULTIMODAL = {"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3",
                     "text_config": {"model_type": "gemma3_text", "hidden_size": 32, "intermediate_size": 64,
                                     "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 1,
                                     "head_dim": 8, "vocab_size": 96, "max_position_embeddings": 32},
                     "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 16, "intermediate_size": 32,
                                       "num_hidden_layers": 1, "num_attention_heads": 2, "image_size": 32, "patch_size": 16},
                     "mm_tokens_per_image": 4, "image_token_index": 96}


@pytest.mark.parametrize("changes,needle", [
    ({"architectures": ["Gemma3ForCausalLM"]}, "unsupported architecture 'Gemma3ForCausalLM': only Gemma3ForConditionalGeneration"),
    ({"text_config": "gemma"}, "text_config must be a JSON object"),
    ({"text_config": {**GEMMA3_MULTIMODAL["text_config"], "model_type": "llama"}}, "text_config.model_type='llama' is not supported"),
    ({"audio_config": {}}, "unknown gemma3 config field(s) audio_config"),
    ({"text_config": {**GEMMA3_MULTIMODAL["text_config"], "frobnicate": 1}}, "unknown gemma3_text config field(s) frobnicate"),
    ({"text_config": {**GEMMA3_MULTIMODAL["text_config"], "hidden_activation": "gelu_fast"}}, "hidden_activation='gelu_fast' is not supported"),
    ({"text_config": {**GEMMA3_MULTIMODAL["text_config"], "use_bidirectional_attention": True}}, "use_bidirectional_attention=true"),
])
def test_gemma3_multimodal_config_rejected(tmp_path, capsys, changes, needle):
    """A multimodal Gemma 3 folder is refused by name for what its language model cannot honour,
    before any weight is read (the folder has none)."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "config.json").write_text(json.dumps({**GEMMA3_MULTIMODAL, **changes}))
    out = tmp_path / "out"
    rc, err = run_cli(capsys, "convert", src, "--out", out)
    assert_clean_failure(rc, err, out, needle)


def test_missing_weight_tensor_refused(tiny_llama, tmp_path, capsys):
    """A weights file without one of the model's tensors (an interrupted download) is refused by
    name: transformers would fill it with random values and only log it."""
    from safetensors.torch import load_file, save_file

    src = config_only_copy(tiny_llama, tmp_path / "src")
    sd = load_file(src / "model.safetensors")
    del sd["model.layers.1.mlp.up_proj.weight"]
    save_file(sd, src / "model.safetensors", metadata={"format": "pt"})
    out = tmp_path / "out"
    rc, err = run_cli(capsys, "convert", src, "--out", out)
    assert_clean_failure(rc, err, out, "the weights lack 1 tensor(s) that LlamaForCausalLM needs: model.layers.1.mlp.up_proj.weight")


def test_failed_convert_keeps_existing_output(tiny_gpt2, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    src = config_only_copy(tiny_gpt2, tmp_path / "src", activation_function="relu")
    rc, err = run_cli(capsys, "convert", src, "--out", out)
    assert rc == 2 and (out / "keep.txt").read_text() == "old"
    assert leftovers(tmp_path, "out") == []


def corrupt_copy(folder: Path, dst: Path, tensor="w_fc") -> Path:
    shutil.copytree(folder, dst)
    m = json.loads((dst / "manifest.json").read_text())
    off = m["tensors"][tensor]["offset"] + 10
    with open(dst / "weights.safetensors", "r+b") as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0xFF]))
    return dst


def test_corrupted_weights_sha_mismatch(converted, tmp_path, capsys):
    bad = corrupt_copy(converted("gpt2", "f32"), tmp_path / "bad")
    rc, err = run_cli(capsys, "verify", bad)
    assert rc == 2 and "sha256 mismatch for tensor 'w_fc'" in err
    # exporting from the corrupted DSL folder refuses before writing anything
    prompts = tmp_path / "p.txt"
    prompts.write_text("Hello world\n")
    out = tmp_path / "ref"
    rc, err = run_cli(capsys, "export", bad, "--prompts", prompts, "--out", out)
    assert_clean_failure(rc, err, out, "sha256 mismatch for tensor 'w_fc'")


def test_truncated_weights(converted, tmp_path, capsys):
    bad = tmp_path / "trunc"
    shutil.copytree(converted("gpt2", "f32"), bad)
    with open(bad / "weights.safetensors", "r+b") as f:
        f.truncate(1000)
    rc, err = run_cli(capsys, "verify", bad)
    assert rc == 2 and "truncated" in err


def test_verify_ok(converted, capsys):
    rc, _ = run_cli(capsys, "verify", converted("gpt2", "f32"))
    assert rc == 0


def test_prompt_too_long(tiny_gpt2, tmp_path, capsys):
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps(["short prompt", "word " * 70]))  # tiny_gpt2 has 64 positions
    out = tmp_path / "ref"
    rc, err = run_cli(capsys, "export", tiny_gpt2, "--prompts", prompts, "--out", out, "--new-tokens", 2)
    assert_clean_failure(rc, err, out, "prompt 2 is too long", "context 64")  # counted from 1


def test_prompt_plus_new_tokens_too_long(tiny_gpt2, tmp_path, capsys):
    prompts = tmp_path / "p.txt"
    prompts.write_text("word " * 60 + "\n")
    out = tmp_path / "ref"
    rc, err = run_cli(capsys, "export", tiny_gpt2, "--prompts", prompts, "--out", out, "--new-tokens", 10)
    assert_clean_failure(rc, err, out, "too long")


def test_missing_prompts_file(tiny_gpt2, tmp_path, capsys):
    out = tmp_path / "ref"
    rc, err = run_cli(capsys, "export", tiny_gpt2, "--prompts", tmp_path / "nope.txt", "--out", out)
    assert_clean_failure(rc, err, out, "prompts file not found")


def test_real_process_exit_code(tmp_path):
    """The module entry point really exits non-zero with a one-line message."""
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "tensorcore_ref", "convert", str(tmp_path / "missing"), "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert p.stderr.strip().splitlines()[-1].startswith("error: ") and "model folder not found" in p.stderr
    assert not out.exists()


# ---- config.json numbers, JSON that cannot be read, tokenizer files, make-model options --------


@pytest.mark.parametrize("changes,needles", [
    ({"num_hidden_layers": 0}, ["num_hidden_layers=0 must be a positive integer"]),
    ({"num_hidden_layers": "2"}, ["num_hidden_layers='2' must be a positive integer"]),
    ({"max_position_embeddings": -1}, ["max_position_embeddings=-1 must be a positive integer"]),
    ({"head_dim": 0}, ["head_dim=0 must be a positive integer"]),
    ({"num_attention_heads": 0}, ["num_attention_heads=0 must be a positive integer"]),
    ({"num_key_value_heads": 0}, ["num_key_value_heads=0 must be a positive integer"]),
    ({"rms_norm_eps": float("nan")}, ["rms_norm_eps=nan must be a finite positive number"]),
    ({"rms_norm_eps": float("inf")}, ["rms_norm_eps=inf must be a finite positive number"]),
    ({"rope_theta": 0}, ["rope_theta=0 must be a finite positive number"]),
    # 10**12 positions: rope tables of terabytes; --max-ctx caps them
    ({"max_position_embeddings": 10 ** 12}, ["a context of 1000000000000 positions", "--max-ctx"]),
    # sizes that do not fit the weights: named by field, not transformers' "see the above report"
    ({"vocab_size": 10}, ["config.json does not fit the weights", "model.embed_tokens.weight", "vocab_size=10"]),
    # fewer layers than the checkpoint holds: transformers drops the rest with a log line
    ({"num_hidden_layers": 1}, ["hold 9 tensor(s) that LlamaForCausalLM as config.json describes it does not use",
                                "model.layers.1.", "num_hidden_layers"]),
])
def test_config_numbers_refused_by_field(tiny_llama, tmp_path, capsys, changes, needles):
    src = config_only_copy(tiny_llama, tmp_path / "src", **changes)
    out = tmp_path / "out"
    rc, err = run_cli(capsys, "convert", src, "--out", out)
    assert_clean_failure(rc, err, out, "config.json", *needles)
    assert "Traceback" not in err and "above report" not in err


def test_huge_layer_count_is_refused_before_building_layers(tiny_llama, tmp_path, capsys):
    """10**9 layers: refused from the checkpoint's tensor count, not after minutes of building them."""
    import time

    src = config_only_copy(tiny_llama, tmp_path / "src", num_hidden_layers=10 ** 9)
    out = tmp_path / "out"
    t0 = time.monotonic()
    rc, err = run_cli(capsys, "convert", src, "--out", out)
    assert_clean_failure(rc, err, out, "num_hidden_layers=1000000000", "the weights (model.safetensors) hold")
    assert time.monotonic() - t0 < 30


@pytest.mark.parametrize("content,needle", [
    (b'{"model_type": "llama"}\xff', "not UTF-8 text"),
    (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
    (b"[1, 2]", "expected a JSON object, got list"),
])
def test_unreadable_config_json(tiny_llama, tmp_path, capsys, content, needle):
    src = config_only_copy(tiny_llama, tmp_path / "src")
    (src / "config.json").write_bytes(content)
    out = tmp_path / "out"
    rc, err = run_cli(capsys, "convert", src, "--out", out)
    assert_clean_failure(rc, err, out, str(src / "config.json"), needle)


def test_verify_deeply_nested_manifest(converted, tmp_path, capsys):
    bad = tmp_path / "deep"
    shutil.copytree(converted("gpt2", "f32"), bad)
    (bad / "manifest.json").write_text("{\"a\": " * 5000 + "1" + "}" * 5000)
    rc, err = run_cli(capsys, "verify", bad)
    assert rc == 2 and err.startswith("error: ") and "manifest.json: invalid JSON (nested too deeply)" in err, err


@pytest.mark.parametrize("name,content,needle", [
    ("tokenizer.json", '{"model": 5}', '"model" must be an object with a "type"'),
    ("tokenizer.json", '{"version": "1.0"}', '"model" must be an object with a "type"'),
    ("tokenizer_config.json", "{", "invalid JSON"),
    ("vocab.json", "[]", "expected a JSON object, got list"),
    ("generation_config.json", "5", "expected a JSON object, got int"),
])
def test_broken_tokenizer_files_refused(tiny_llama, tmp_path, capsys, name, content, needle):
    """convert would copy them into a folder that generate then refuses."""
    src = config_only_copy(tiny_llama, tmp_path / "src")
    (src / name).write_text(content)
    out = tmp_path / "out"
    rc, err = run_cli(capsys, "convert", src, "--out", out)
    assert_clean_failure(rc, err, out, str(src / name), needle)


@pytest.mark.parametrize("argv,needle", [
    (["llama-family", "--layers", "-1", "--width", "0", "--heads", "7"], "--layers is not an option of llama-family"),
    (["tiny-llama-random", "--format", "bin"], "--format is not an option of tiny-llama-random"),
    (["embedded", "--seed", "3"], "--seed is not an option of embedded"),
    (["gpt2-tiny-custom", "--layers", "-1"], "--layers -1: expected a positive integer"),
    (["gpt2-tiny-custom", "--ctx", "0"], "--ctx 0: expected a positive integer"),
    (["gpt2-tiny-custom", "--width", "0"], "--width 0: expected a positive integer"),
    (["gpt2-tiny-custom", "--heads", "0"], "--heads 0: expected a positive integer"),
    (["gpt2-tiny-custom", "--heads", "7"], "--width 192 must be divisible by --heads 7"),
    (["gpt2-tiny-custom", "--seed", "-1"], "--seed -1"),
])
def test_make_model_options_checked(tmp_path, capsys, argv, needle):
    out = tmp_path / "m"
    rc, err = run_cli(capsys, "make-model", *argv, "--out", out)
    assert_clean_failure(rc, err, out, needle)
