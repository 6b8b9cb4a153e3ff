"""HF transformers f32 logits for bench/accuracy.ts: every position of every token sequence.

usage: hf_logits.py HF_DIR SEQUENCES.json OUT_DIR   (writes OUT_DIR/seq<i>.npy, float32 [T, VOCAB])
"""
import json, os, sys
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np
import torch
from transformers import AutoModelForCausalLM

model_dir, seq_path, out_dir = sys.argv[1:4]
torch.set_num_threads(2)
model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32, attn_implementation="eager").eval()
with open(seq_path) as f:
    seqs = json.load(f)
os.makedirs(out_dir, exist_ok=True)
with torch.inference_mode():
    for i, ids in enumerate(seqs):
        logits = model(torch.tensor([ids])).logits[0].float().numpy()
        np.save(os.path.join(out_dir, f"seq{i}.npy"), np.ascontiguousarray(logits, dtype=np.float32))
print(json.dumps({"sequences": len(seqs), "torch": torch.__version__}))
