#!/usr/bin/env python3
"""Where the int8 scheme's logit error comes from, and how often it changes the top-1 token.

For each family model (a `hf make-model` folder), this simulates `--dtype int8` in torch from the
scheme's definition (docs/model-folder.md "int8 scheme"), not by running TensorCore code:

  * a projection: W quantized per output channel (scale = max|W| / 127 over the input axis,
    q = round(W / scale)), its input h per row (xs = max|h| / 127, hq = round(h / xs), half to
    even), y = (hq · q) * xs * scale + b, the integer product exact;
  * the embedding rows and the LM head rows quantized per row; the LM head's input per row too.

Each part is switched on alone (the LM head, the embeddings, the layers' projections) or with
others. Two other 8-bit formats, applied to every part, put the scheme in context:

  * llama.cpp's q8_0: weights and activations in blocks of 32 along the input axis, one scale per
    block (a last block shorter than 32 where the width is not a multiple of 32, which llama.cpp
    itself would refuse);
  * bf16: weights and activations rounded to bfloat16 (8 significant bits), no integer product.

Every scheme is compared with HF f32 on the 20 prompts of tests/e2e/families.e2e.ts and on held-out
prompts (the non-empty strings of tests/fixtures/tokenizer-cases.json, at most 40 tokens each):
the mean of max|Δlogit| over prompts and the number whose top-1 token is HF's. The last column
says how many held-out prompts HF itself decides by less than 0.1 logit (top-2 gap).

    .venv/bin/python python-ref/tools/int8_agreement.py [FAMILY ...]   (default: the six families)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python-ref"))

from tensorcore_ref.make_models import make_model  # noqa: E402

FAMILIES = ["gpt2-family", "llama-family", "qwen2-family", "qwen3-family", "mistral-family", "gemma-family", "gemma2-family", "gemma3-family", "phi3-family", "granite-family", "gpt-neox-family"]
PROMPTS = json.loads((ROOT / "tests/fixtures/int8-prompts.json").read_text())["prompts"]
HELD_OUT = [c["text"] for c in json.loads((ROOT / "tests/fixtures/tokenizer-cases.json").read_text())["cases"] if c["text"]]
# (label, quantize the LM head, the embeddings, the layers' projections, format)
SCHEMES = [("LM head only", True, False, False, "int8"), ("embeddings only", False, True, False, "int8"),
           ("layers only", False, False, True, "int8"), ("layers + embeddings", False, True, True, "int8"),
           ("all (--dtype int8)", True, True, True, "int8"),
           ("all, q8_0 blocks of 32", True, True, True, "q8_0"), ("all, bf16", True, True, True, "bf16")]


def quant_rows(x):
    """Per-row symmetric int8 along the last axis, as quant.ta: (q, scale)."""
    s = x.abs().amax(-1, keepdim=True) / 127
    return torch.nan_to_num(torch.round(x / s)).clamp(-128, 127), s


def quant_weight(w, axis):
    """Per-output-channel int8 (reduced over `axis`, the input axis), as convert's quantize_int8."""
    a = w.abs().amax(axis, keepdim=True)
    s = torch.where(a > 0, a / 127, torch.ones_like(a))
    return torch.clamp(torch.round(w / s), -127, 127), s


def fake_quant(x, fmt: str):
    """x as the format stores it, along the last axis, back in float: q8_0 blocks of 32, or bf16."""
    if fmt == "bf16":
        return x.to(torch.bfloat16).float()
    k = x.shape[-1]
    pad = (-k) % 32
    xb = torch.nn.functional.pad(x, (0, pad)).reshape(*x.shape[:-1], (k + pad) // 32, 32)
    a = xb.abs().amax(-1, keepdim=True)
    s = torch.where(a > 0, a / 127, torch.ones_like(a)).half().float()  # q8_0 keeps its scales in f16
    return (torch.round(xb / s).clamp(-127, 127) * s).reshape(*x.shape[:-1], k + pad)[..., :k]


def quantized_projection(mod, fmt: str):
    """forward of an nn.Linear / Conv1D in `fmt`; int8 as the scheme (int products exact in float64)."""
    from transformers.pytorch_utils import Conv1D

    w = mod.weight.detach()
    w_in_out = w if isinstance(mod, Conv1D) else w.t()
    b = None if mod.bias is None else mod.bias.detach()
    if fmt == "int8":
        q, s = quant_weight(w_in_out, 0)
        q = q.double()

        def forward(h):
            hq, xs = quant_rows(h)
            y = (hq.double() @ q).float() * xs * s
            return y if b is None else y + b
    else:
        wq = fake_quant(w_in_out.t(), fmt).t().double()

        def forward(h):
            y = (fake_quant(h, fmt).double() @ wq).float()
            return y if b is None else y + b
    return forward


def logits(folder: Path, head_q: bool, emb_q: bool, layers_q: bool, prompts, fmt: str = "int8") -> torch.Tensor:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.pytorch_utils import Conv1D

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
    tok = AutoTokenizer.from_pretrained(folder)
    emb, head = model.get_input_embeddings(), model.get_output_embeddings()
    H = head.weight.detach().clone()  # read before the embeddings change (tied models share it)
    if layers_q:
        for m in model.modules():
            if m is not head and isinstance(m, (torch.nn.Linear, Conv1D)):
                m.forward = quantized_projection(m, fmt)
    if emb_q and fmt == "int8":
        q, s = quant_weight(emb.weight.detach(), 1)
        emb.weight.data = q * s
    elif emb_q:
        emb.weight.data = fake_quant(emb.weight.detach(), fmt)
    if head_q and fmt == "int8":
        hq_w, hs_w = quant_weight(H, 1)
    elif head_q:
        H = fake_quant(H, fmt)
    out = []
    with torch.no_grad():
        for p in prompts:
            ids = tok(p, return_tensors="pt").input_ids[:, :40]
            h = model(ids, output_hidden_states=True).hidden_states[-1][0, -1]  # the final norm's output
            if head_q and fmt == "int8":
                xq, xs = quant_rows(h)
                out.append((hq_w.double() @ xq.double()).float() * xs * hs_w[:, 0])
            else:
                out.append(H @ (fake_quant(h, fmt) if head_q else h))
    return torch.stack(out)


def main(families: list[str]) -> None:
    import transformers

    transformers.logging.set_verbosity_error()
    print(f"{'family':16} {'quantized':22} {'test':>6} {'misses':14} {'held-out':>9} {'mean max|dlogit|':>17} {'HF gaps<0.1':>12}")
    for fam in families:
        folder = make_model(fam, quiet=True)
        ref, ref_h = logits(folder, False, False, False, PROMPTS), logits(folder, False, False, False, HELD_OUT)
        top2 = ref_h.topk(2, -1).values
        near = int((top2[:, 0] - top2[:, 1] < 0.1).sum())
        for label, hq, eq, lq, fmt in SCHEMES:
            lg, lg_h = logits(folder, hq, eq, lq, PROMPTS, fmt), logits(folder, hq, eq, lq, HELD_OUT, fmt)
            miss = [i for i in range(len(PROMPTS)) if lg[i].argmax() != ref[i].argmax()]
            held = int((lg_h.argmax(-1) == ref_h.argmax(-1)).sum())
            err = (lg_h - ref_h).abs().amax(-1).mean()
            print(f"{fam:16} {label:22} {len(PROMPTS) - len(miss):>3}/{len(PROMPTS)} {str(miss):14} "
                  f"{held:>4}/{len(HELD_OUT)} {err:17.3f} {near:>8}/{len(HELD_OUT)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or FAMILIES)
