"""HF transformers (PyTorch) timings for bench/models.ts, on the same machine in the same run.

Decode: prefill a PROMPT-token prompt, then NEW single-token steps with the KV cache (greedy);
prefill: one forward over PREFILL tokens; deep decode: DEEP_STEPS single-token steps after a DEEP-token
context. Prints one JSON line.
"""
import json, sys, time, os
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
from transformers import AutoModelForCausalLM

model_dir, threads, prompt_len, new_tokens, prefill_len = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
deep, deep_steps = (int(sys.argv[6]), int(sys.argv[7])) if len(sys.argv) > 7 else (0, 0)
torch.set_num_threads(threads)
model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32, attn_implementation="eager").eval()
ids = torch.arange(100, 100 + prompt_len).unsqueeze(0)
with torch.inference_mode():
    model(ids)  # warm-up
    t0 = time.perf_counter()
    out = model(ids, use_cache=True)
    past, tok = out.past_key_values, out.logits[:, -1:].argmax(-1)
    steps = []
    for _ in range(new_tokens):
        t = time.perf_counter()
        out = model(tok, past_key_values=past, use_cache=True)
        past, tok = out.past_key_values, out.logits[:, -1:].argmax(-1)
        steps.append(time.perf_counter() - t)
    pre = torch.arange(100, 100 + prefill_len).unsqueeze(0)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        model(pre)
        times.append(time.perf_counter() - t)
    deep_ms = None  # JSON null: not measured
    if deep:
        ctx = (torch.arange(deep) % 5000 + 100).unsqueeze(0)
        out = model(ctx, use_cache=True)
        past, tok = out.past_key_values, out.logits[:, -1:].argmax(-1)
        t = time.perf_counter()
        for _ in range(deep_steps):
            out = model(tok, past_key_values=past, use_cache=True)
            past, tok = out.past_key_values, out.logits[:, -1:].argmax(-1)
        deep_ms = 1000 * (time.perf_counter() - t) / deep_steps
steps.sort()
print(json.dumps({"decode_ms_per_token": 1000 * sum(steps) / len(steps), "decode_ms_median": 1000 * steps[len(steps) // 2],
                  "prefill_ms": 1000 * sorted(times)[1], "decode_deep_ms": deep_ms, "threads": threads, "torch": torch.__version__}))
