"""Backtracking cost of tokenizer.json's pre-tokenizer and normalizer patterns.

HF tokenizers matches them with Oniguruma, which backtracks: `(a+)+b` on thirty a's and a c tries
every way to cut the run, and k unbounded repeats in one alternative over the same characters try
every k-way cut. Oniguruma then stops at its retry limit and tokenizers panics (a Rust backtrace and
a PanicException), so convert and export refuse such a pattern first, naming it, by the same rule as
models/tokenizer/regex.ts (which the CLI and kernel use): a group repeated more than once may not
itself repeat or alternate, and one alternative may hold at most MAX_LONG_REPEATS long repeats.
tests/fixtures/tokenizer-patterns.json holds the cases both must agree on.

Only the structure is read here; which constructs are supported at all is models/tokenizer.ts's
business (generate refuses the others, naming them).
"""
from __future__ import annotations

import re

MAX_LONG_REPEATS = 2
LONG_REPEAT = 16  # a repeat counts as long when unbounded or allowed more than this many times

_BRACE = re.compile(r"\{(\d+)(,(\d*))?\}")


def _skip_escape(src: str, i: int) -> int:
    """Index after the escape at src[i] == '\\'."""
    c = src[i + 1] if i + 1 < len(src) else ""
    if c in ("p", "P"):
        if src[i + 2:i + 3] == "{":
            end = src.find("}", i + 3)
            return len(src) if end < 0 else end + 1
        return i + 3
    if c == "u":
        return i + 6
    return i + 2


def _skip_class(src: str, i: int) -> int:
    """Index after the character class opening at src[i] == '['."""
    i += 1
    if src[i:i + 1] == "^":
        i += 1
    first = True
    depth = 1
    while i < len(src):
        ch = src[i]
        if ch == "\\":
            i = _skip_escape(src, i)
        elif ch == "[":
            depth += 1
            i += 1
        elif ch == "]" and not first:
            depth -= 1
            i += 1
            if depth == 0:
                return i
        else:
            i += 1
        first = False
    return i


def backtracking_problem(src: str) -> str | None:
    """Why matching `src` could take exponential or high-degree polynomial time; None if it cannot."""
    groups: list[dict] = []  # per open group: variable (a repeat or alternation inside), branch_start, branch_max
    long_repeats = 0  # in the current top-level alternative, nested groups included
    last = "none"  # what a quantifier applies to: "simple", "complex" (a variable group) or "none"
    i = 0
    while i < len(src):
        ch = src[i]
        if ch == "\\":
            i = _skip_escape(src, i)
            last = "simple"
        elif ch == "[":
            i = _skip_class(src, i)
            last = "simple"
        elif ch == "(":
            groups.append({"variable": False, "branch_start": long_repeats, "branch_max": long_repeats})
            if src.startswith("(?<=", i) or src.startswith("(?<!", i):
                i += 4
            elif src.startswith("(?i:", i):
                i += 4
            elif src.startswith("(?", i):
                i += 3
            else:
                i += 1
            last = "none"
        elif ch == ")":
            if not groups:
                return None  # unbalanced: the tokenizer refuses it, naming it
            g = groups.pop()
            i += 1
            long_repeats = max(long_repeats, g["branch_max"])
            if groups and g["variable"]:
                groups[-1]["variable"] = True
            last = "complex" if g["variable"] else "simple"
        elif ch in "*+?{":
            if ch == "{":
                m = _BRACE.match(src, i)
                if not m:
                    i += 1
                    last = "simple"  # a literal brace
                    continue
                q = m.group(0)
                hi = float(m.group(1)) if m.group(2) is None else float("inf") if m.group(3) == "" else float(m.group(3))
            else:
                q = ch
                hi = 1 if ch == "?" else float("inf")
            at = i
            i += len(q)
            if src[i:i + 1] in ("?", "+"):  # lazy (possessive ones are refused by the tokenizer)
                i += 1
            if last == "none":
                continue
            if hi > 1 and last == "complex":
                return (f"'{q}' at {at} repeats a group that itself repeats or has alternatives: "
                        "matching could take exponential time")
            if groups:
                groups[-1]["variable"] = True
            if hi > LONG_REPEAT:
                long_repeats += 1
                if long_repeats > MAX_LONG_REPEATS:
                    return (f"more than {MAX_LONG_REPEATS} long repeats in one alternative (the last at {at}): matching "
                            f"could take time growing as the text's length to the power {long_repeats}")
            last = "none"
        elif ch == "|":
            i += 1
            if groups:
                g = groups[-1]
                g["variable"] = True
                g["branch_max"] = max(g["branch_max"], long_repeats)
                long_repeats = g["branch_start"]
            else:
                long_repeats = 0
            last = "none"
        else:
            i += 1
            last = "simple"
    return None


def patterns_in(section, where: str):
    """(field, pattern) for every {"Regex": ...} in a tokenizer.json section, e.g. pre_tokenizer."""
    stack = [(section, where)]
    while stack:
        node, field = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("Regex"), str) and len(node) == 1:
                yield field, node["Regex"]
            for k, v in node.items():
                stack.append((v, f"{field}.{k}"))
        elif isinstance(node, list):
            for n, v in enumerate(node):
                stack.append((v, f"{field}[{n}]"))
