#!/usr/bin/env python3
"""Rounding cases for tests/precision.test.ts and tests/cpp/precision_test.cpp: float32 values
and the bits numpy gives them.

f16 comes from numpy's float32 -> float16 cast (round to nearest even); bf16 from rounding
the float32 bits to their upper half (nearest even, NaN kept quiet); int8/int32 from
round-half-even then saturation (NaN -> 0). Writes tests/fixtures/examples/precision-cases.json.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "examples" / "precision-cases.json"


def bf16_bits(a: np.ndarray) -> np.ndarray:
    bits = a.view(np.uint32).astype(np.uint64)
    r = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) & 0xFFFF
    return np.where(np.isnan(a), ((bits >> 16) | 0x40) & 0xFFFF, r).astype(np.uint32)


def to_int(a: np.ndarray, lo: int, hi: int) -> list[int]:
    r = np.rint(np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=hi, neginf=lo))
    return [int(v) for v in np.clip(r, lo, hi)]


def main() -> None:
    rng = np.random.default_rng(7)
    special = [0.0, -0.0, 1.0, -1.0, 0.1, 1 / 3, 65504, 65505, 65519.996, 65520, 1e6, -1e6, 2.0**-24, 2.0**-25, 1.5 * 2.0**-25,
               2.0**-14, 2.0**-14 - 2.0**-24, 3 * 2.0**-26, 1e-8, 2049, 2051, 2050, 4097, 257, 259, 1.00390625, 1.01171875,
               3.0e38, -3.4e38, 1e-40, -1e-45, np.inf, -np.inf, np.nan, 0.5, 1.5, 2.5, -2.5, -0.5, 126.5, 127.5, -128.5, -129,
               2147483520.0, 2147483648.0, -2147483648.0, -3e9, 1e10]
    # ties for f16 and bf16: odd multiples of half an ulp, then random bit patterns of every magnitude
    ties = [(1 + (2 * k + 1) * 2.0**-11) * 2.0**e for k in range(4) for e in (-20, -14, -3, 0, 7, 15)]
    ties += [(1 + (2 * k + 1) * 2.0**-8) * 2.0**e for k in range(4) for e in (-130, -60, 0, 40, 127)]
    bits = rng.integers(0, 2**32, 400, dtype=np.uint64).astype(np.uint32)
    rand = bits.view(np.float32)
    small = (rng.standard_normal(300) * 10.0 ** rng.integers(-9, 6, 300)).astype(np.float32)
    vals = np.concatenate([np.array(special + ties, dtype=np.float32), rand, small])
    with np.errstate(over="ignore", invalid="ignore"):
        f16 = vals.astype(np.float16).view(np.uint16)
    cases = {
        "f32_bits": [int(b) for b in vals.view(np.uint32)],
        "f16_bits": [int(b) for b in f16],
        "bf16_bits": [int(b) for b in bf16_bits(vals)],
        "int8": to_int(vals, -128, 127),
        "int32": to_int(vals, -(2**31), 2**31 - 1),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(cases) + "\n")
    print(f"{OUT}: {len(vals)} values")


if __name__ == "__main__":
    main()
