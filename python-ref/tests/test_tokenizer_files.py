"""Tokenizer files through convert, and the committed tokenizer fixtures against HF."""

import json
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KINDS = REPO / "tests" / "fixtures" / "tokenizers"


def test_tokenizer_json_only_folder_converts_with_its_tokenizer(work, tiny_gpt2):
    """A GPT-2 folder as transformers 5 saves it (tokenizer.json, no vocab.json/merges.txt) keeps its tokenizer."""
    from transformers import AutoTokenizer

    from tensorcore_ref.convert import convert

    src = work / "hf-gpt2-tokenizer-json-only"
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(tiny_gpt2, src)
    for f in ("vocab.json", "merges.txt"):
        (src / f).unlink()
    assert (src / "tokenizer.json").is_file()
    out = work / "dsl-gpt2-tokenizer-json-only"
    convert(str(src), out, quiet=True)
    assert (out / "tokenizer.json").read_bytes() == (src / "tokenizer.json").read_bytes()
    assert (out / "tokenizer_config.json").read_bytes() == (src / "tokenizer_config.json").read_bytes()
    assert "tokenizer.json" in json.loads((out / "manifest.json").read_text())["tokenizer_files"]
    text = "Hello world, 日本語 😀  two spaces\tand a tab"
    assert AutoTokenizer.from_pretrained(str(out)).encode(text) == AutoTokenizer.from_pretrained(str(src)).encode(text)


def test_chat_template_saved_by_transformers_is_kept(work, tiny_gpt2):
    """transformers 5 saves a tokenizer's chat template as chat_template.jinja; convert keeps it, and
    the converted folder's tokenizer renders the same chat (models/chat.ts reads the same file)."""
    from transformers import AutoTokenizer

    from tensorcore_ref.convert import convert

    src = work / "hf-gpt2-chat"
    if src.exists():
        shutil.rmtree(src)
    tok = AutoTokenizer.from_pretrained(str(tiny_gpt2))
    tok.chat_template = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
    shutil.copytree(tiny_gpt2, src)
    tok.save_pretrained(str(src))
    assert (src / "chat_template.jinja").is_file(), sorted(p.name for p in src.iterdir())
    out = work / "dsl-gpt2-chat"
    convert(str(src), out, quiet=True)
    assert (out / "chat_template.jinja").read_bytes() == (src / "chat_template.jinja").read_bytes()
    assert "chat_template.jinja" in json.loads((out / "manifest.json").read_text())["tokenizer_files"]
    conv = [{"role": "user", "content": "Hi"}]
    want = AutoTokenizer.from_pretrained(str(src)).apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
    assert AutoTokenizer.from_pretrained(str(out)).apply_chat_template(conv, add_generation_prompt=True, tokenize=False) == want


def test_tekken_only_folder_is_refused_before_writing(work, tiny_llama):
    """A Mistral folder whose only tokenizer is tekken.json is refused by name, nothing written; with
    tokenizer.json beside it (as Mistral's HF repos ship) it converts."""
    from tensorcore_ref.convert import convert
    from tensorcore_ref.errors import TCError

    src = work / "hf-tekken-only"
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(tiny_llama, src)
    saved = {f: (src / f).read_bytes() for f in ("tokenizer.json", "vocab.json", "merges.txt") if (src / f).exists()}
    for f in saved:
        (src / f).unlink()
    (src / "tekken.json").write_text(json.dumps({"config": {"pattern": "x"}, "vocab": []}))
    out = work / "dsl-tekken-only"
    with pytest.raises(TCError) as e:
        convert(str(src), out, quiet=True)
    msg = str(e.value)
    assert msg.startswith(f"{src / 'tekken.json'}: Mistral's tekken tokenizer is not supported"), msg
    assert "supported: tokenizer.json" in msg and "vocab.json + merges.txt" in msg, msg
    assert not out.exists()
    (src / "tokenizer.json").write_bytes(saved["tokenizer.json"])
    convert(str(src), out, quiet=True)
    assert "tokenizer.json" in json.loads((out / "manifest.json").read_text())["tokenizer_files"]


@pytest.mark.parametrize("kind", ["llama3", "qwen2", "gpt-neox", "llama2", "mistral", "gemma"])
def test_committed_tokenizer_fixtures_match_hf(kind):
    """The committed cases are what AutoTokenizer gives on the committed folder (regenerate with tokenizer_kinds)."""
    from transformers import AutoTokenizer

    folder = KINDS / kind
    data = json.loads((folder / "cases.json").read_text(encoding="utf-8"))
    tok = AutoTokenizer.from_pretrained(str(folder))
    assert type(tok).__name__ == data["class"]
    assert len(tok) == data["vocabSize"]
    for c in data["cases"][:: 7]:
        assert tok.encode(c["text"]) == c["ids"], c["text"]
        assert tok.decode(c["ids"]) == c.get("decoded", c["text"]), c["text"]
