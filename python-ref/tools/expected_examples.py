#!/usr/bin/env python3
"""Expected outputs of the example programs, computed independently with numpy.

Each function below re-implements one example in `examples/` from the language's
documented semantics (docs/language.md), NOT by running TensorCore code:

  * elementwise arithmetic rounds to float32 after every operation (numpy float32 does);
  * sums (REDUCE, SUM, MEAN, MMUL, softmax denominators) accumulate in float64 and round
    once when stored;
  * stores convert to the destination precision: f16 by numpy's float16 (round to nearest
    even, from the float32 value), bf16 by rounding the float32 bits (nearest even),
    int8/int32 by round-half-even then saturation (NaN -> 0);
  * REDUCE(x) prints the float64 sum with C's "%.6g".

It writes tests/fixtures/examples/<group>__<name>.expected.json holding what
`tensorcore run FILE --json` prints ({"stdout": [...], "params": {name: {dtype, shape, data}}})
plus the comparison tolerance of each parameter.

    .venv/bin/python python-ref/tools/expected_examples.py
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"
OUT = ROOT / "tests" / "fixtures" / "examples"

f32 = np.float32
f64 = np.float64


# ---- precision rules ---------------------------------------------------------------------

def F(x) -> np.ndarray:
    """A value rounded to float32 (an f32 store or an f32 operation's result)."""
    return np.asarray(x, dtype=f64).astype(f32)


def to_f16(x) -> np.ndarray:
    return F(x).astype(np.float16).astype(f32)


def to_bf16(x) -> np.ndarray:
    a = F(x)
    bits = a.view(np.uint32).astype(np.uint64)
    nan = np.isnan(a)
    r = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) & 0xFFFF
    r = np.where(nan, ((bits >> 16) | 0x40) & 0xFFFF, r)
    return (r.astype(np.uint32) << 16).view(f32).reshape(a.shape)


def to_int(x, lo: int, hi: int) -> np.ndarray:
    a = np.asarray(x, dtype=f64)
    r = np.rint(np.nan_to_num(a, nan=0.0, posinf=hi, neginf=lo))  # rint: half to even
    return np.clip(r, lo, hi).astype(np.int64)


def to_int8(x):
    return to_int(x, -128, 127)


def to_int32(x):
    return to_int(x, -(2**31), 2**31 - 1)


def wrap32(x) -> np.ndarray:
    a = np.asarray(x, dtype=np.int64)
    return ((a + 2**31) % 2**32) - 2**31


def idiv(a, b):
    """int32 division truncating toward zero."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    q = np.abs(a) // np.abs(b)
    return wrap32(np.where((a < 0) != (b < 0), -q, q))


def mm(acc, a, b):
    """MMUL: acc (f32 values) + the float64 sum of products, rounded to f32."""
    return F(np.asarray(acc, f64) + np.asarray(a, f64) @ np.asarray(b, f64))


def seqsum(x) -> float:
    """float64 sum in row-major order."""
    s = 0.0
    for v in np.asarray(x, f64).ravel():
        s += float(v)
    return s


def sum_last(x):
    return F(np.asarray(x, f64).sum(axis=-1, keepdims=True))


def mean_last(x):
    x = np.asarray(x, f64)
    return F(x.sum(axis=-1, keepdims=True) / x.shape[-1])


def max_last(x):
    return np.max(x, axis=-1, keepdims=True)


def softmax_last(x):
    x = F(x)
    m = np.max(x, axis=-1, keepdims=True)
    e = F(np.exp(F(x - m).astype(f64)))
    s = e.astype(f64).sum(axis=-1, keepdims=True)
    return F(e / s)


def fn(f, x):
    """An elementwise function computed in double from f32 operands, rounded to f32."""
    return F(f(F(x).astype(f64)))


SQRT_2_OVER_PI = float(f32(math.sqrt(2 / math.pi)))
_erf = np.vectorize(math.erf)


def gelu_tanh(x):
    return fn(lambda v: 0.5 * v * (1 + np.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))), x)


def gelu_erf(x):
    return fn(lambda v: 0.5 * v * (1 + _erf(v * math.sqrt(0.5))), x)


def silu(x):
    return fn(lambda v: v / (1 + np.exp(-v)), x)


def g6(x: float) -> str:
    return "%.6g" % x


# ---- inputs ------------------------------------------------------------------------------

def weight(group: str, name: str, dtype=None, shape=None) -> np.ndarray:
    d = EX / group / "weights"
    if (d / f"{name}.npy").exists():
        return np.load(d / f"{name}.npy")
    raw = np.fromfile(d / f"{name}.bin", dtype=dtype)
    return raw.reshape(shape)


def fill(shape, value=0.5):
    """An unbound parameter: `run` fills it with 0.5."""
    return np.full(shape, value, dtype=f32)


# ---- the examples --------------------------------------------------------------------------
# Each returns (stdout lines, {param: (dtype, array)}, {param: rtol} overrides).

def prototype_bmm():
    a, b = fill((3, 2, 2)), fill((3, 2, 2))
    acc = np.zeros((2, 2), f32)
    for i in range(3):
        acc = mm(acc, a[i], b[i])
    return [g6(seqsum(acc))], {"a": ("f32", a), "b": ("f32", b), "c": ("f32", acc)}


def prototype_matvec():
    w = weight("prototype", "mv_w", f32, (4, 3))
    v = weight("prototype", "mv_v", f32, (3,))
    u = mm(np.zeros(4), w, v)
    r = mm(np.zeros(3), u, w)
    return [g6(seqsum(u)), g6(seqsum(r))], {"mv_w": ("f32", w), "mv_v": ("f32", v), "wv": ("f32", u), "uw": ("f32", r)}


def prototype_tiles():
    a = weight("prototype", "t_a", f32, (4, 4))
    bias = weight("prototype", "t_bias", f32, (4,))
    x = a.copy()
    y = x.T
    acc = F(mm(np.zeros((4, 4)), x, y) + bias)
    staged = acc
    rooted = np.maximum(fn(np.sqrt, np.abs(acc)), 0)
    out = [g6(seqsum(rooted))]
    x = fn(np.exp, x)
    probs = softmax_last(x)
    out.append(g6(seqsum(probs)))
    return out, {"t_a": ("f32", a), "t_bias": ("f32", bias), "staged": ("f32", staged), "rooted": ("f32", rooted), "probs": ("f32", probs)}


def prototype_embed():
    table = weight("prototype", "emb_table", f32, (6, 4))
    ids = weight("prototype", "emb_ids", np.int32, (3,))
    rows = table[ids]
    total = F([seqsum(rows)])
    params = {"emb_table": ("f32", table), "emb_ids": ("int32", ids), "gelu": ("f32", gelu_tanh(rows)),
              "silu": ("f32", silu(rows)), "erf": ("f32", gelu_erf(rows)), "total": ("f32", total)}
    return [g6(seqsum(rows))], params


def basics_arithmetic():
    # Hand-derived (see the comments in the example).
    fl = F([-3, -3.5, 1 + float(F(1.0 / 3)), -1.5, float(F(F(-1.5e-3) * 1000)), 26])
    it = np.array([-(2**31), -3, -8, 1, 8, 2])
    return [], {"fl": ("f32", fl), "it": ("int32", it)}


def basics_broadcasting():
    x, r, c = (weight("basics", n) for n in ("bc_x", "bc_r", "bc_c"))
    sum_rc = F(F(x + F(r * f32(2))) - c)
    clipped = np.minimum(np.maximum(x, f32(-0.5)), r)
    scaled = F(x - mean_last(x))
    scaled = F(F(scaled / max_last(np.abs(scaled))) + f32(1))
    outer = F(c * r)
    cube = np.broadcast_to(F(outer + F(x * f32(0.5))), (2, 2, 3)).copy()
    cube[1] = F(cube[1] - sum_last(x))
    params = {"bc_x": ("f32", x), "bc_r": ("f32", r), "bc_c": ("f32", c), "sum_rc": ("f32", sum_rc), "clipped": ("f32", clipped),
              "scaled": ("f32", scaled), "outer": ("f32", outer), "cube": ("f32", cube)}
    return [g6(seqsum(sum_rc)), g6(seqsum(cube))], params


def basics_windows():
    x = weight("basics", "win_x")
    shifted = np.concatenate([x[:, 3:6], x[:, 0:3]], axis=1)
    picked = np.full(6, 0.5, f32)
    picked[0] = x[1, 2]
    picked[1] = x[3, 5]
    picked[2:6] = x[2, 1:5]
    heads = np.zeros((4, 2), f32)
    for h in range(3):
        heads = F(heads + x[:, 2 * h:2 * h + 2])
    flipped = x[::-1].copy()
    for t in range(4):
        flipped[t, t] = -1
    params = {"win_x": ("f32", x), "shifted": ("f32", shifted), "picked": ("f32", picked), "heads": ("f32", heads), "flipped": ("f32", flipped)}
    return [g6(seqsum(heads))], params


def basics_loops():
    tri = np.zeros((5, 5), f32)
    for i in range(5):
        for j in range(i + 1):
            tri[i, j] = i * 10 + j
    evens = np.zeros(8, f32)
    for k in range(0, 8, 2):
        evens[k] = k * k
    count = 3
    prefix = np.zeros(8, f32)
    for t in range(count + 2):
        for u in range(t, 8, 3):
            prefix[u] += 1
    return [g6(seqsum(tri))], {"tri": ("f32", tri), "count": ("int32", np.array(count)), "evens": ("f32", evens), "prefix": ("f32", prefix)}


def basics_reductions():
    x = weight("basics", "red_x")
    i = weight("basics", "red_i").astype(np.int64)
    params = {
        "red_x": ("f32", x),
        "sums": ("f32", sum_last(x)[..., 0]),
        "maxes": ("f32", max_last(x)[..., 0]),
        "means": ("f32", mean_last(x)),
        "total": ("f32", F(seqsum(x))),
        "red_i": ("int32", i),
        "isum": ("int32", wrap32(i.sum(axis=-1))),
        "imax": ("int32", (-i).max(axis=-1)),
    }
    return [g6(seqsum(x)), g6(seqsum(i))], params


def basics_elementwise():
    x, m = weight("basics", "ew_x"), weight("basics", "ew_m")
    ax = np.abs(x)
    e = fn(np.exp, x)
    l = fn(np.log, F(ax + f32(1)))
    s = fn(np.sqrt, ax)
    t = fn(np.tanh, F(x * f32(2)))
    mixed = F(F(F(fn(np.sqrt, ax) * fn(np.tanh, x)) + fn(np.exp, -ax)) - fn(np.log, f32(2)))
    tr = F(m.T + F(m.T * f32(10)))
    params = {"ew_x": ("f32", x), "e": ("f32", e), "l": ("f32", l), "s": ("f32", s), "t": ("f32", t), "a": ("f32", ax),
              "mixed": ("f32", mixed), "ew_m": ("f32", m), "tr": ("f32", tr)}
    return [g6(seqsum(mixed))], params


def basics_ranks():
    a, b, c, d = np.meshgrid(range(2), range(3), range(2), range(4), indexing="ij")
    r4 = (a * 1000 + b * 100 + c * 10 + d).astype(f32)
    slab = r4[1]
    line = F(r4[1][2][1] + r4[0, 0, 0])
    n = to_int32(F(sum_last(line) / f32(4)))[0]
    params = {"r4": ("f32", r4), "pick": ("int32", np.array(1)), "slab": ("f32", slab), "line": ("f32", line), "n": ("int32", np.array(n))}
    return [g6(seqsum(r4))], params


def basics_lookup():
    table, ids = weight("basics", "lk_table"), weight("basics", "lk_ids")
    small = to_int8(F(table * f32(100)))
    params = {"lk_table": ("f32", table), "lk_ids": ("int32", ids), "rows": ("f32", table[ids]), "last": ("f32", table[4]),
              "irows": ("int32", small[ids])}
    return [g6(seqsum(table[ids]))], params


def basics_top_level():
    v = np.full(4, 3, f32)
    v[0] = -1
    v = F(v * f32(0.5))
    n = fn(np.sqrt, F(seqsum(F(v * v))))
    # then the last kernel, norm2, runs with its parameters filled with 0.5
    x = fill(4)
    out = fn(np.sqrt, F(seqsum(F(x * x))))
    return [g6(seqsum(v)), g6(float(n))], {"x": ("f32", x), "out": ("f32", out)}


def precision_f16():
    h = np.zeros(10, f32)
    vals = [F(1.0) / F(3.0), 0.1, 2049, 2051, 65504, 65520, -1e6, 1e-7, 1e-9]
    for i, v in enumerate(vals):
        h[i] = to_f16(v)
    h[9] = to_f16(F(h[0] * f32(3)))
    back = F(h[0:4] + f32(0.0001))
    return [g6(seqsum(h[0:5]))], {"h": ("f16", h), "back": ("f32", back)}


def precision_bf16():
    b = np.zeros(8, f32)
    vals = [F(1.0) / F(3.0), 257, 259, 3.0e38, 1.0e-40, -0.0, 1.00390625, 1.01171875]
    for i, v in enumerate(vals):
        b[i] = to_bf16(v)
    b[0] = 0
    for _ in range(100):
        b[0] = to_bf16(F(b[0] + f32(0.01)))
    acc = F([b[0], F(b[1] + b[2]), F(b[6] + b[7])])
    return [], {"b": ("bf16", b), "acc": ("f32", acc)}


def precision_int8():
    q = np.zeros(10, np.int64)
    q[0] = 127
    q[1] = to_int8(q[0] + 1)
    for i, v in zip(range(2, 9), [-200, 2.5, 3.5, -2.5, float("nan"), 1e10, -0.5]):
        q[i] = to_int8(v)
    q[9] = to_int8(idiv(300, 7))
    wide = np.array([q[0] * q[2], q[1] + q[0], to_int32(F(-2147483648.0 * 4))])
    f = F([idiv(q[3], 4), F(q[3]) / f32(4)])
    return [], {"q": ("int8", q), "wide": ("int32", wide), "f": ("f32", f)}


def precision_int8_mmul():
    a = weight("precision", "q_a", np.int8, (3, 8)).astype(np.int64)
    b = weight("precision", "q_b", np.int8, (8, 4)).astype(np.int64)
    acc = wrap32(2 * (a @ b))
    deq = F(F(acc) * f32(0.0125))
    requant = to_int8(idiv(acc, 64))
    params = {"q_a": ("int8", a), "q_b": ("int8", b), "acc_out": ("int32", acc), "deq": ("f32", deq), "requant": ("int8", requant)}
    return [g6(seqsum(acc))], params


def precision_mixed():
    a_in = weight("precision", "mx_a", f32, (2, 4))
    b_in = weight("precision", "mx_b", f32, (4, 3))
    a, b = to_f16(a_in), to_bf16(b_in)
    cb = to_bf16(mm(np.zeros((2, 3)), a, b))
    ch = to_f16(mm(np.zeros((2, 3)), a, b))
    ch = to_f16(F(ch * f32(4000)))
    return [g6(seqsum(cb))], {"mx_a": ("f32", a_in), "mx_b": ("f32", b_in), "out_bf16": ("bf16", cb), "out_f16": ("f16", ch)}


def nn_layernorm():
    x, g, b = weight("nn", "ln_x"), weight("nn", "ln_gamma"), F(weight("nn", "ln_beta"))
    c = F(x - mean_last(x))
    y = F(F(F(c / fn(np.sqrt, F(mean_last(F(c * c)) + f32(1e-5)))) * g) + b)
    return [g6(seqsum(y))], {"ln_x": ("f32", x), "ln_gamma": ("f32", g), "ln_beta": ("f32", b), "ln_y": ("f32", y)}


def nn_rmsnorm():
    x, w = weight("nn", "rms_x").astype(f32), weight("nn", "rms_w")
    rms = fn(np.sqrt, F(mean_last(F(x * x)) + f32(1e-6)))
    y = to_f16(F(F(x / rms) * w))
    return [], {"rms_x": ("f16", x), "rms_w": ("f32", w), "rms_y": ("f16", y), "rms": ("f32", rms[:, 0])}


def nn_attention():
    q, k, v = (weight("nn", n) for n in ("att_q", "att_k", "att_v"))
    out = np.full((4, 8), 0.5, f32)
    p = np.full((2, 4, 4), 0.5, f32)
    for h in range(2):
        w = slice(4 * h, 4 * h + 4)
        s = mm(np.zeros((4, 4)), q[:, w], k[:, w].T)
        s = F(s / f32(2))
        s[np.triu_indices(4, 1)] = -np.inf
        s = softmax_last(s)
        p[h] = s
        out[:, w] = mm(np.zeros((4, 4)), s, v[:, w])
    return [g6(seqsum(p))], {"att_q": ("f32", q), "att_k": ("f32", k), "att_v": ("f32", v), "att_out": ("f32", out), "att_p": ("f32", p)}


def nn_transposed_products():
    a, b, c, bias, cache, q = (weight("nn", n) for n in ("nt_a", "nt_b", "nt_c", "nt_bias", "nt_cache", "nt_q"))
    i, j = weight("nn", "nt_i").astype(np.int64), weight("nn", "nt_j").astype(np.int64)
    b16 = to_bf16(b)
    ab = mm(np.zeros((3, 5)), a, b16.T)
    ac = F(mm(np.zeros((4, 2)), a.T, c) + F(bias))
    qk = mm(np.zeros((1, 5)), q, cache[1, 2:7, 1:5].T)
    qb = mm(np.zeros((1, 5)), q, b16.T)
    ij = wrap32(i @ j.T)
    params = {"nt_a": ("f32", a), "nt_b": ("bf16", b), "nt_c": ("f32", c), "nt_bias": ("f32", bias), "nt_cache": ("f32", cache),
              "nt_q": ("f32", q), "nt_i": ("int8", i), "nt_j": ("int8", j),
              "nt_ab": ("f32", ab), "nt_ac": ("f32", ac), "nt_qk": ("f32", qk), "nt_qb": ("f32", qb), "nt_ij": ("int32", ij)}
    return [g6(seqsum(ab))], params


def nn_mlp():
    x, w1, b1, w2, b2 = (weight("nn", n) for n in ("mlp_x", "mlp_w1", "mlp_b1", "mlp_w2", "mlp_b2"))
    h = F(mm(np.zeros((2, 8)), x, w1) + b1)
    h_erf, h_silu = gelu_erf(h), silu(h)
    y = F(mm(np.zeros((2, 4)), gelu_tanh(h), w2) + b2)
    params = {"mlp_x": ("f32", x), "mlp_w1": ("f32", w1), "mlp_b1": ("f32", b1), "mlp_w2": ("f32", w2), "mlp_b2": ("f32", b2),
              "mlp_y": ("f32", y), "h_erf": ("f32", h_erf), "h_silu": ("f32", h_silu)}
    return [g6(seqsum(y))], params


def nn_block():
    x0, w, w1, w2 = (weight("nn", n) for n in ("blk_x", "blk_w", "blk_w1", "blk_w2"))
    x = x0.copy()
    n = F(x / fn(np.sqrt, F(mean_last(F(x * x)) + f32(1e-6))))
    x = F(x + mm(np.zeros((4, 8)), n, w))
    c = F(x - mean_last(x))
    n = F(c / fn(np.sqrt, F(mean_last(F(c * c)) + f32(1e-5))))
    h = gelu_tanh(mm(np.zeros((4, 16)), n, w1))
    x = F(x + mm(np.zeros((4, 8)), h, w2))
    return [g6(seqsum(x))], {"blk_x": ("f32", x), "blk_w": ("f32", w), "blk_w1": ("f32", w1), "blk_w2": ("f32", w2)}


def nn_decode():
    k, v, q, knew, vnew = (weight("nn", n).copy() for n in ("dec_k", "dec_v", "dec_q", "dec_knew", "dec_vnew"))
    pos = int(weight("nn", "dec_pos"))
    k[pos], v[pos] = knew, vnew
    w = np.full(6, -np.inf, f32)
    for j in range(pos + 1):
        score = F(seqsum(F(q * k[j])))
        w[j] = F(score / f32(2))
    w = F(fn(np.exp, F(w - np.max(w))))
    w = F(w / F(seqsum(w)))
    out = np.zeros(4, f32)
    for j in range(pos + 1):
        out = F(out + F(v[j] * w[j]))
    params = {"dec_k": ("f32", k), "dec_v": ("f32", v), "dec_q": ("f32", q), "dec_knew": ("f32", knew), "dec_vnew": ("f32", vnew),
              "dec_pos": ("int32", np.array(pos)), "dec_out": ("f32", out), "dec_w": ("f32", w)}
    return [g6(seqsum(w))], params


def nn_softmax():
    logits = weight("nn", "sm_logits")
    p = softmax_last(logits)
    p[1] = softmax_last(F(logits[1] * f32(100)))
    p[2, 0] = -np.inf
    p[2] = softmax_last(p[2])
    v = np.array([1, 1, -np.inf, -np.inf], f32)
    return [g6(seqsum(p))], {"sm_logits": ("f32", logits), "sm_p": ("f32", p), "sm_v": ("f32", softmax_last(v))}


EXAMPLES = {name.replace("_", "/", 1): f for name, f in list(globals().items())
            if callable(f) and name.split("_", 1)[0] in ("prototype", "basics", "precision", "nn")}


def json_value(x: float, integer: bool):
    if integer:
        return int(x)
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, f in EXAMPLES.items():
        assert (EX / f"{name}.ta").exists(), name
        stdout, params = f()
        doc = {"example": f"examples/{name}.ta", "stdout": stdout, "params": {}, "tolerance": {"rtol": 1e-5, "atol": 1e-6}}
        for pname, (dtype, arr) in params.items():
            arr = np.asarray(arr)
            integer = dtype in ("int8", "int32")
            if dtype == "f16":
                arr = to_f16(arr)
            elif dtype == "bf16":
                arr = to_bf16(arr)
            doc["params"][pname] = {"dtype": dtype, "shape": list(arr.shape), "data": [json_value(v, integer) for v in arr.ravel()]}
        path = OUT / f"{name.replace('/', '__')}.expected.json"
        path.write_text(json.dumps(doc, indent=1) + "\n")
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
