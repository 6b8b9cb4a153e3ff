#!/usr/bin/env python3
"""Write the example programs' input tensors (examples/<group>/weights/NAME.bin|.npy).

Seeded, so the files are reproducible; they are tiny and committed. `.bin` files are raw
little-endian data in the kernel parameter's own precision (the prototype's format);
`.npy` files carry their dtype and shape. Each name is bound by exactly one example,
so names are prefixed by the example that reads them (all examples of a group share
the group's weights/ folder).

    .venv/bin/python python-ref/tools/make_example_inputs.py [--root examples]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

SEED = 20240611


def specs(rng: np.random.Generator) -> dict[str, dict[str, np.ndarray]]:
    f32 = np.float32

    def normal(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(f32)

    def uniform(lo, hi, *shape):
        return rng.uniform(lo, hi, shape).astype(f32)

    return {
        "prototype": {
            "mv_w.bin": uniform(-2, 2, 4, 3),
            "mv_v.bin": uniform(-2, 2, 3),
            "t_a.bin": normal(4, 4),
            "t_bias.bin": normal(4),
            "emb_table.bin": normal(6, 4, scale=2.0),
            "emb_ids.bin": np.array([5, 0, 3], dtype=np.int32),
        },
        "basics": {
            "bc_x.npy": normal(2, 3),
            "bc_r.npy": normal(3),
            "bc_c.npy": normal(2, 1),
            "win_x.npy": np.arange(24, dtype=f32).reshape(4, 6) + normal(4, 6, scale=0.1),
            "red_x.npy": normal(2, 3, 4, scale=3.0),
            "red_i.npy": rng.integers(-1000, 1000, (2, 4), dtype=np.int32),
            "ew_x.npy": np.array([-2.5, -0.3, 0.0, 0.7, 3.1], dtype=f32),
            "ew_m.npy": normal(2, 3),
            "lk_table.npy": normal(5, 3, scale=2.0),
            "lk_ids.npy": np.array([3, 0, 4, 3], dtype=np.int32),
        },
        "precision": {
            "q_a.bin": rng.integers(-128, 128, (3, 8), dtype=np.int8),
            "q_b.bin": rng.integers(-128, 128, (8, 4), dtype=np.int8),
            "mx_a.bin": uniform(-6, 6, 2, 4),
            "mx_b.bin": uniform(-3, 3, 4, 3),
        },
        "nn": {
            "ln_x.npy": normal(4, 8, scale=2.0) + 1,
            "ln_gamma.npy": uniform(0.5, 1.5, 8),
            "ln_beta.npy": rng.standard_normal(8) * 0.1,  # float64: converted to f32 when bound
            "rms_x.npy": normal(3, 8).astype(np.float16),
            "rms_w.npy": uniform(0.5, 1.5, 8),
            "att_q.npy": normal(4, 8),
            "att_k.npy": normal(4, 8),
            "att_v.npy": normal(4, 8),
            "mlp_x.npy": normal(2, 4),
            "mlp_w1.npy": normal(4, 8, scale=0.5),
            "mlp_b1.npy": normal(8, scale=0.1),
            "mlp_w2.npy": normal(8, 4, scale=0.5),
            "mlp_b2.npy": normal(4, scale=0.1),
            "blk_x.npy": normal(4, 8),
            "blk_w.npy": normal(8, 8, scale=0.3),
            "blk_w1.npy": normal(8, 16, scale=0.3),
            "blk_w2.npy": normal(16, 8, scale=0.3),
            "dec_k.npy": normal(6, 4),
            "dec_v.npy": normal(6, 4),
            "dec_q.npy": normal(4),
            "dec_knew.npy": normal(4),
            "dec_vnew.npy": normal(4),
            "dec_pos.npy": np.array(3, dtype=np.int32),
            "sm_logits.npy": normal(3, 4, scale=2.0),
            "nt_a.npy": normal(3, 4),
            "nt_b.npy": normal(5, 4),
            "nt_c.npy": normal(3, 2),
            "nt_bias.npy": normal(2),
            "nt_cache.npy": normal(2, 8, 6),
            "nt_q.npy": normal(1, 4),
            "nt_i.npy": rng.integers(-128, 128, (2, 3), dtype=np.int8),
            "nt_j.npy": rng.integers(-128, 128, (4, 3), dtype=np.int8),
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[2] / "examples"))
    args = ap.parse_args()
    rng = np.random.default_rng(SEED)
    for group, files in specs(rng).items():
        d = Path(args.root) / group / "weights"
        d.mkdir(parents=True, exist_ok=True)
        for name, arr in files.items():
            path = d / name
            if name.endswith(".npy"):
                np.save(path, arr)
            else:
                path.write_bytes(np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes())
            print(f"{path} {arr.dtype} {arr.shape}")


if __name__ == "__main__":
    main()
