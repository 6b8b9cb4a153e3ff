#!/usr/bin/env python3
"""Where the int8 scheme's logit error comes from, and how often it changes the top-1 token.

For each family model (a `hf make-model` folder), this simulates `--dtype int8` in torch from the
scheme's definition (docs/model-folder.md "int8 scheme"), not by running TensorCore code:

  * a projection: W quantized per output channel (scale = max|W| / 127 over the input axis,
    q = round(W / scale)), its input h per row (xs = max|h| / 127, hq = round(h / xs), half to
    even), y = (hq · q) * xs * scale + b, the integer product exact;
  * the embedding rows and the LM head rows quantized per row; the LM head's input per row too.

Each part is switched on alone (the LM head, the embeddings, the layers' projections) or with
others, and compared with HF f32 on the 20 prompts of tests/e2e/families.e2e.ts and on held-out
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

FAMILIES = ["gpt2-family", "llama-family", "qwen2-family", "mistral-family", "gemma-family", "gpt-neox-family"]
PROMPTS = json.loads((ROOT / "tests/fixtures/int8-prompts.json").read_text())["prompts"]
HELD_OUT = [c["text"] for c in json.loads((ROOT / "tests/fixtures/tokenizer-cases.json").read_text())["cases"] if c["text"]]
# (label, quantize the LM head, the embeddings, the layers' projections)
SCHEMES = [("LM head only", True, False, False), ("embeddings only", False, True, False),
           ("layers only", False, False, True), ("layers + embeddings", False, True, True),
           ("all (--dtype int8)", True, True, True)]


def quant_rows(x):
    """Per-row symmetric int8 along the last axis, as quant.ta: (q, scale)."""
    s = x.abs().amax(-1, keepdim=True) / 127
    return torch.nan_to_num(torch.round(x / s)).clamp(-128, 127), s


def quant_weight(w, axis):
    """Per-output-channel int8 (reduced over `axis`, the input axis), as convert's quantize_int8."""
    a = w.abs().amax(axis, keepdim=True)
    s = torch.where(a > 0, a / 127, torch.ones_like(a))
    return torch.clamp(torch.round(w / s), -127, 127), s


def int8_projection(mod):
    """forward of an nn.Linear / Conv1D with the int8 scheme (int products exact in float64)."""
    from transformers.pytorch_utils import Conv1D

    w = mod.weight.detach()
    w_in_out = w if isinstance(mod, Conv1D) else w.t()
    q, s = quant_weight(w_in_out, 0)
    q = q.double()
    b = None if mod.bias is None else mod.bias.detach()

    def forward(h):
        hq, xs = quant_rows(h)
        y = (hq.double() @ q).float() * xs * s
        return y if b is None else y + b
    return forward


def logits(folder: Path, head_q: bool, emb_q: bool, layers_q: bool, prompts) -> torch.Tensor:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.pytorch_utils import Conv1D

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
    tok = AutoTokenizer.from_pretrained(folder)
    emb, head = model.get_input_embeddings(), model.get_output_embeddings()
    H = head.weight.detach().clone()  # read before the embeddings change (tied models share it)
    if layers_q:
        for m in model.modules():
            if m is not head and isinstance(m, (torch.nn.Linear, Conv1D)):
                m.forward = int8_projection(m)
    if emb_q:
        q, s = quant_weight(emb.weight.detach(), 1)
        emb.weight.data = q * s
    if head_q:
        hq_w, hs_w = quant_weight(H, 1)
    out = []
    with torch.no_grad():
        for p in prompts:
            ids = tok(p, return_tensors="pt").input_ids[:, :40]
            h = model(ids, output_hidden_states=True).hidden_states[-1][0, -1]  # the final norm's output
            if head_q:
                xq, xs = quant_rows(h)
                out.append((hq_w.double() @ xq.double()).float() * xs * hs_w[:, 0])
            else:
                out.append(H @ h)
    return torch.stack(out)


def main(families: list[str]) -> None:
    import transformers

    transformers.logging.set_verbosity_error()
    print(f"{'family':16} {'int8 part':22} {'test':>6} {'misses':14} {'held-out':>9} {'mean max|dlogit|':>17} {'HF gaps<0.1':>12}")
    for fam in families:
        folder = make_model(fam, quiet=True)
        ref, ref_h = logits(folder, False, False, False, PROMPTS), logits(folder, False, False, False, HELD_OUT)
        top2 = ref_h.topk(2, -1).values
        near = int((top2[:, 0] - top2[:, 1] < 0.1).sum())
        for label, hq, eq, lq in SCHEMES:
            lg, lg_h = logits(folder, hq, eq, lq, PROMPTS), logits(folder, hq, eq, lq, HELD_OUT)
            miss = [i for i in range(len(PROMPTS)) if lg[i].argmax() != ref[i].argmax()]
            held = int((lg_h.argmax(-1) == ref_h.argmax(-1)).sum())
            err = (lg_h - ref_h).abs().amax(-1).mean()
            print(f"{fam:16} {label:22} {len(PROMPTS) - len(miss):>3}/{len(PROMPTS)} {str(miss):14} "
                  f"{held:>4}/{len(HELD_OUT)} {err:17.3f} {near:>8}/{len(HELD_OUT)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or FAMILIES)
