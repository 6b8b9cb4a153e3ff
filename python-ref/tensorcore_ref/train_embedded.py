"""Train the project's embedded default model: a small GPT-2 on the fortunes corpus.

Run (about 13-15 minutes on one CPU thread):

    python -m tensorcore_ref.train_embedded            # train + convert + samples
    python -m tensorcore_ref.train_embedded --finish   # only re-convert + samples

Everything that decides the result is fixed here: the corpus (Debian `fortunes`
text files under /usr/share/games/fortunes, records separated by `%` lines,
the ascii-art files left out; each record flattened to one line of prose with
"-- Author" attribution lines dropped, see clean_record), the real GPT-2 tokenizer (vocab 50257), the
architecture, the optimiser, the schedule and the seed. One torch thread.

Outputs:
  * HF checkpoint (save_pretrained, f32) in ~/.cache/tensorcore/models/embedded-hf
    (not committed; `make-model embedded` rebuilds an HF folder from the DSL folder)
  * models/embedded/training-log.json, models/embedded/loss.png
  * models/embedded/ = `convert --dtype f16` of the checkpoint, plus samples.txt
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from pathlib import Path

from .paths import EMBEDDED_DIR, cache_dir, gpt2_tokenizer, gpt2_tokenizer_files, save_gpt2_tokenizer

FORTUNES_DIR = Path("/usr/share/games/fortunes")
EXCLUDE = {"art", "ascii-art"}  # drawings, not prose

HPARAMS = {
    "seed": 0,
    "n_layer": 4,
    "n_head": 4,
    "n_embd": 64,
    "n_positions": 128,
    "seq_len": 128,
    "batch_size": 8,
    "steps": 1600,
    "lr": 3e-3,
    "min_lr_ratio": 0.1,
    "warmup_steps": 30,
    "weight_decay": 0.01,
    "betas": [0.9, 0.98],
    "grad_clip": 1.0,
    "val_fraction": 0.02,
    "val_every": 70,
    "val_batches": 4,
    "threads": 2,
}

SAMPLE_PROMPTS = [
    "The meaning of life is",
    "A day for firm decisions",
    "Computers are",
    "Love is",
    "You will",
]


def read_corpus(root: Path = FORTUNES_DIR) -> list[str]:
    """All fortune records (plain-text files only, no .dat/.u8), in a fixed order."""
    records = []
    for f in sorted(root.iterdir()):
        if not f.is_file() or "." in f.name or f.name in EXCLUDE:
            continue
        text = f.read_text(encoding="utf-8", errors="replace")
        cur: list[str] = []
        for line in text.splitlines():
            if line.strip() == "%":
                if cur:
                    records.append("\n".join(cur).strip())
                cur = []
            else:
                cur.append(line.rstrip())
        if cur:
            records.append("\n".join(cur).strip())
    return [r for r in records if r]


def clean_record(r: str) -> str:
    """Prose-like text: attribution lines ("-- Author") dropped, all whitespace runs -> one space."""
    lines = [l.strip() for l in r.splitlines()]
    lines = [l for l in lines if l and not l.startswith("--")]
    return " ".join(" ".join(lines).split())


def training_records(root: Path = FORTUNES_DIR) -> list[str]:
    """Cleaned records; those that are mostly not letters (drawings, tables) are left out."""
    out = []
    for r in map(clean_record, read_corpus(root)):
        letters = sum(ch.isalpha() for ch in r)
        if len(r) >= 8 and letters >= 0.6 * len(r):
            out.append(r)
    return out


def tokenize_records(records, tok) -> list[int]:
    eos = tok.eos_token_id
    ids: list[int] = []
    for enc in tok(records)["input_ids"]:
        ids.extend(enc)
        ids.append(eos)
    return ids


def lr_at(step: int, hp: dict) -> float:
    if step < hp["warmup_steps"]:
        return hp["lr"] * (step + 1) / hp["warmup_steps"]
    progress = (step - hp["warmup_steps"]) / max(1, hp["steps"] - hp["warmup_steps"])
    cos = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return hp["lr"] * (hp["min_lr_ratio"] + (1 - hp["min_lr_ratio"]) * cos)


def train(hf_out: Path, log_path: Path, png_path: Path, hp: dict) -> None:
    import numpy as np
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.set_num_threads(hp["threads"])
    torch.manual_seed(hp["seed"])
    rng = np.random.default_rng(hp["seed"])

    tok = gpt2_tokenizer()
    records = training_records()
    random.Random(hp["seed"]).shuffle(records)
    n_val = max(1, int(len(records) * hp["val_fraction"]))
    val_ids = np.array(tokenize_records(records[:n_val], tok), dtype=np.int64)
    train_ids = np.array(tokenize_records(records[n_val:], tok), dtype=np.int64)
    print(f"corpus: {len(records)} records, {len(train_ids)} train / {len(val_ids)} val tokens", flush=True)

    config = GPT2Config(
        vocab_size=len(tok),
        n_positions=hp["n_positions"],
        n_embd=hp["n_embd"],
        n_layer=hp["n_layer"],
        n_head=hp["n_head"],
        activation_function="gelu_new",
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        layer_norm_epsilon=1e-5,
        tie_word_embeddings=True,
        bos_token_id=tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    model = GPT2LMHeadModel(config)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params} parameters", flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": hp["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=hp["lr"], betas=tuple(hp["betas"]),
    )
    L, B = hp["seq_len"], hp["batch_size"]

    def batch(ids, gen):
        starts = gen.integers(0, len(ids) - L - 1, size=B)
        x = np.stack([ids[s:s + L] for s in starts])
        return torch.from_numpy(x)

    def evaluate():
        model.eval()
        g = np.random.default_rng(1234)
        with torch.no_grad():
            losses = [model(input_ids=(x := batch(val_ids, g)), labels=x).loss.item() for _ in range(hp["val_batches"])]
        model.train()
        return float(np.mean(losses))

    log = {"hparams": hp, "n_params": n_params, "train_tokens": int(len(train_ids)),
           "val_tokens": int(len(val_ids)), "records": len(records), "steps": [], "val": []}
    t0 = time.time()
    model.train()
    for step in range(hp["steps"]):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, hp)
        x = batch(train_ids, rng)
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), hp["grad_clip"])
        opt.step()
        log["steps"].append({"step": step, "loss": round(loss.item(), 5), "lr": opt.param_groups[0]["lr"],
                             "t": round(time.time() - t0, 2)})
        if step % 20 == 0:
            print(f"step {step} loss {loss.item():.4f} lr {opt.param_groups[0]['lr']:.2e} t {time.time() - t0:.0f}s", flush=True)
        if (step + 1) % hp["val_every"] == 0 or step + 1 == hp["steps"]:
            v = evaluate()
            log["val"].append({"step": step + 1, "loss": round(v, 5)})
            print(f"  val loss {v:.4f}", flush=True)
    log["wall_seconds"] = round(time.time() - t0, 1)
    tail = [s["loss"] for s in log["steps"][-50:]]
    log["final_train_loss_avg50"] = round(float(np.mean(tail)), 4)
    log["final_val_loss"] = log["val"][-1]["loss"]

    hf_out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(hf_out)
    save_gpt2_tokenizer(hf_out)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(json.dumps(log, indent=1) + "\n")
    plot_loss(log, png_path)
    print(f"saved HF checkpoint to {hf_out}; final val loss {log['final_val_loss']}", flush=True)


def plot_loss(log: dict, png_path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    steps = [s["step"] for s in log["steps"]]
    losses = np.array([s["loss"] for s in log["steps"]])
    k = 25
    smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
    fig, ax = plt.subplots(figsize=(5, 3), dpi=80)
    ax.plot(steps, losses, lw=0.5, alpha=0.4, label="train")
    ax.plot(steps[k - 1:], smooth, lw=1.2, label=f"train ({k}-step mean)")
    ax.plot([v["step"] for v in log["val"]], [v["loss"] for v in log["val"]], "o-", ms=3, label="val")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats)")
    ax.set_title("embedded GPT-2 on fortunes")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)


def write_samples(hf_dir: Path, out: Path, seed: int = 0, new_tokens: int = 40) -> None:
    import torch
    from transformers import AutoTokenizer, GPT2LMHeadModel

    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(hf_dir)
    model = GPT2LMHeadModel.from_pretrained(hf_dir).eval()
    lines = [f"# Continuations from HF generate on the embedded model ({new_tokens} new tokens).",
             f"# greedy: do_sample=False. sampled: do_sample=True, top_k=40, temperature=0.8, "
             f"torch.manual_seed({seed} + 10 * prompt index + sample index).", ""]
    for k, p in enumerate(SAMPLE_PROMPTS):
        ids = tok(p, return_tensors="pt").input_ids
        with torch.no_grad():
            g = model.generate(ids, max_new_tokens=new_tokens, do_sample=False, pad_token_id=tok.eos_token_id)
            samples = []
            for j in range(2):
                torch.manual_seed(seed + 10 * k + j)
                s = model.generate(ids, max_new_tokens=new_tokens, do_sample=True, top_k=40, temperature=0.8,
                                   pad_token_id=tok.eos_token_id)
                samples.append(f"SAMPLED: {tok.decode(s[0])!r}")
        lines += [f"PROMPT: {p!r}", f"GREEDY: {tok.decode(g[0])!r}", *samples, ""]
    out.write_text("\n".join(lines))


def finish(hf_dir: Path, dsl_dir: Path) -> None:
    from .convert import convert

    keep = {n: (dsl_dir / n).read_bytes() for n in ("training-log.json", "loss.png") if (dsl_dir / n).exists()}
    if "training-log.json" not in keep:
        raise SystemExit(f"{dsl_dir}/training-log.json missing: train first")
    convert(str(hf_dir), dsl_dir, dtype="f16")
    for n, b in keep.items():
        (dsl_dir / n).write_bytes(b)
    write_samples(hf_dir, dsl_dir / "samples.txt")
    write_readme(dsl_dir)
    print(f"wrote {dsl_dir}", flush=True)


def write_readme(dsl_dir: Path) -> None:
    log = json.loads((dsl_dir / "training-log.json").read_text())
    manifest = json.loads((dsl_dir / "manifest.json").read_text())
    hp = log["hparams"]
    size = sum(f.stat().st_size for f in dsl_dir.iterdir() if f.is_file() and f.name != "README.md")
    c = manifest["consts"]
    (dsl_dir / "README.md").write_text(f"""# Embedded default model

A small GPT-2 (GPT2LMHeadModel architecture) trained by this project on the Debian `fortunes`
corpus with the real GPT-2 tokenizer, converted to a TensorCore model folder in f16
(`docs/model-folder.md`). Regenerate with `python -m tensorcore_ref.train_embedded`
(python-ref/tensorcore_ref/train_embedded.py holds the seed, corpus and hyperparameters).

| | |
|---|---|
| layers / heads / width / context | {c['N_LAYER']} / {c['N_HEAD']} / {c['D_MODEL']} / {c['N_CTX']} |
| vocab | {c['VOCAB']} (GPT-2 BPE), tied embeddings |
| parameters | {log['n_params']:,} |
| folder size | {size / 1e6:.1f} MB (weights f16) |
| corpus | {log['records']:,} fortunes, {log['train_tokens']:,} train / {log['val_tokens']:,} validation tokens |
| training | {hp['steps']} steps x {hp['batch_size']} x {hp['seq_len']} tokens, AdamW lr {hp['lr']} (warmup {hp['warmup_steps']}, cosine to {hp['min_lr_ratio']}x), seed {hp['seed']}, {hp['threads']} CPU thread, {log['wall_seconds'] / 60:.1f} min |
| final loss | train {log['final_train_loss_avg50']} (mean of last 50 steps), validation {log['final_val_loss']} nats/token |

Files: `config.json`, `model.ta`, `manifest.json`, `weights.safetensors`, `vocab.json`, `merges.txt`,
`tokenizer_config.json`, `generation_config.json` (from `convert --dtype f16`), `training-log.json`,
`loss.png`, `samples.txt` (greedy and sampled continuations from HF generate).
The HF checkpoint is not committed; `tensorcore hf make-model embedded` rebuilds it from this folder.
""")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tensorcore_ref.train_embedded", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hf-out", type=Path, default=cache_dir() / "models" / "embedded-hf")
    ap.add_argument("--dsl-out", type=Path, default=EMBEDDED_DIR)
    ap.add_argument("--steps", type=int, default=HPARAMS["steps"])
    ap.add_argument("--finish", action="store_true", help="skip training; convert --hf-out and write samples")
    ap.add_argument("--no-finish", action="store_true", help="train only")
    a = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    gpt2_tokenizer_files()  # fail early with a clear message
    if not a.finish:
        hp = dict(HPARAMS, steps=a.steps)
        a.dsl_out.mkdir(parents=True, exist_ok=True)
        train(a.hf_out, a.dsl_out / "training-log.json", a.dsl_out / "loss.png", hp)
    if not a.no_finish:
        finish(a.hf_out, a.dsl_out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
