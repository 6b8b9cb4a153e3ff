"""Reference activations from HF (eager attention, fp32) for the DSL to compare against.

Format: docs/reference-format.md.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import tarfile
from pathlib import Path

import numpy as np

from .convert import FORMAT as MODEL_FORMAT, architecture_of, load_hf_model, read_config, state_dict_sha256
from .errors import TCError
from .progress import Steps
from .fsutil import atomic_dir, prepare_output
from .st_io import sha256_file

FORMAT = "tensorcore-reference/1"
WRITTEN_BY = "tensorcore export"
WHAT = "reference folder that `tensorcore hf export` wrote"


def export_owner(folder: Path) -> str | None:
    """None when ``folder`` is one export wrote (its index.json says so), else why it is not."""
    index = Path(folder) / "index.json"
    if not index.is_file() or index.is_symlink():
        return "it is not empty and has no index.json"
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "its index.json is not valid JSON"
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return f"its index.json is not a {FORMAT} index"
    if data.get("written_by", WRITTEN_BY) != WRITTEN_BY:
        return f"its index.json was written by {data.get('written_by')!r}"
    return None


ARCHIVE_FORMAT = "tensorcore-reference-archive/1"


def check_archive_replaceable(tar_path: Path, name: str) -> None:
    """--archive replaces DIR.tar.gz only when it is missing or one export packed: a gzip tar whose
    first members are DIR/ and DIR/archive-manifest.json of ARCHIVE_FORMAT (tarfile adds a folder's
    entries sorted, so the manifest comes first). Anything else there is the user's, and left alone."""
    if not os.path.lexists(tar_path):
        return
    why = None
    if tar_path.is_symlink() or not tar_path.is_file():
        why = "it is not a regular file"
    else:
        try:
            with tarfile.open(tar_path, "r:gz") as tf:
                first, second = tf.next(), tf.next()
                ok = (first is not None and first.isdir() and first.name == name and second is not None
                      and second.isfile() and second.name == f"{name}/archive-manifest.json" and second.size < (1 << 26))
                listing = json.loads(tf.extractfile(second).read()) if ok else None
            if not (isinstance(listing, dict) and listing.get("format") == ARCHIVE_FORMAT):
                why = "it is not an archive export packed"
        except (OSError, EOFError, tarfile.TarError, ValueError, UnicodeDecodeError):
            why = "it is not a gzip tar archive export packed"
    if why:
        raise TCError(f"{tar_path}: --archive would replace it, but {why}; nothing written (move it away)")


DATASET_FORMAT = "tensorcore-dataset/1"
# probs are computed in float64 and stored as float32, so each row sums to 1 within ~V * 2^-24 of
# the stored values' rounding (< 1e-6 in practice). torch's pure-f32 softmax over 50257 logits drifts
# ~1.5e-5, which is why it is not used for the stored reference.
SOFTMAX_TOL = 1e-5
DEFAULT_SEED = 0


def read_prompts(path: Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise TCError(f"{path}: prompts file not found")
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            prompts = json.loads(text)
        except json.JSONDecodeError as e:
            raise TCError(f"{path}: invalid JSON list of prompts ({e})") from None
        if not isinstance(prompts, list) or not all(isinstance(p, str) for p in prompts):
            raise TCError(f"{path}: expected a JSON list of strings")
    else:
        prompts = [line for line in text.splitlines() if line.strip()]
    if not prompts:
        raise TCError(f"{path}: no prompts")
    if any(not p for p in prompts):
        raise TCError(f"{path}: empty prompt")
    return prompts


def load_tokenizer(source: str):
    from transformers import AutoTokenizer, GPT2Tokenizer

    from .convert import check_tokenizer_structure

    # transformers opens the files itself: each is first checked to resolve inside the folder (a
    # vocab.json -> /etc/passwd link would be read) and to be the structure its name promises
    check_tokenizer_structure(source)
    try:
        return AutoTokenizer.from_pretrained(source)
    except Exception:
        try:
            return GPT2Tokenizer.from_pretrained(source)
        except Exception as e:
            raise TCError(f"{source}: cannot load a tokenizer ({type(e).__name__}: {e})") from None


def load_model(source: str):
    """(model, tokenizer, architecture, info) from an HF source or a DSL model folder."""
    p = Path(source).expanduser()
    info: dict = {}
    if (p / "manifest.json").is_file():
        from .dsl_to_hf import load_dsl_as_hf

        from .convert import read_manifest

        manifest = read_manifest(p)  # structure, confinement, sizes
        for key in ("architecture", "dtype", "weights_sha256"):
            if key not in manifest:
                raise TCError(f"{p / 'manifest.json'}: {key!r} is missing")
        model = load_dsl_as_hf(p)  # verifies every sha256 first
        arch = manifest["architecture"]
        info["dsl_folder"] = {"dtype": manifest["dtype"], "weights_sha256": manifest["weights_sha256"],
                              "n_ctx": manifest["consts"].get("N_CTX")}
    else:
        raw, _ = read_config(source)
        arch = architecture_of(raw)
        model = load_hf_model(source, arch)
        f = p / "model.safetensors"
        if f.is_file():
            info["weights_file_sha256"] = sha256_file(f)
    model.config._attn_implementation = "eager"
    tok = load_tokenizer(source)
    return model.eval(), tok, arch, info


def n_ctx_of(model, arch: str) -> int:
    c = model.config
    return c.n_positions if arch == "gpt2" else c.get_text_config().max_position_embeddings


class Capture:
    """Forward hooks that record the per-layer activations of one forward pass."""

    def __init__(self, model, arch: str):
        self.acts: dict[str, np.ndarray] = {}
        self.handles = []
        if arch == "gpt2":
            tr = model.transformer
            self._out(tr.wte, "tok_emb")
            self._out(tr.wpe, "pos_emb")
            layers = tr.h
            attn, mlp = "attn", "mlp"
            self._out(tr.ln_f, "final_norm")
        elif arch == "gpt_neox":
            m = model.gpt_neox
            self._out(m.embed_in, "tok_emb")
            self._rope(m.rotary_emb)
            layers = m.layers
            attn, mlp = "attention", "mlp"
            self._out(m.final_layer_norm, "final_norm")
        else:  # Llama, Qwen2, Qwen3, Mistral, Gemma 1-3 (Gemma's embed_tokens output is already scaled)
            m = model.model
            m = getattr(m, "language_model", m)  # a multimodal model (Gemma 3 4B+): its language model
            self._out(m.embed_tokens, "tok_emb")
            self._rope(m.rotary_emb)
            layers = m.layers
            attn, mlp = "self_attn", "mlp"
            self._out(m.norm, "final_norm")
        for i, blk in enumerate(layers):
            self._in(blk, f"layer{i}.input")
            self._out(getattr(blk, attn), f"layer{i}.attn_out")
            self._out(getattr(blk, mlp), f"layer{i}.mlp_out")
            self._out(blk, f"layer{i}.resid")

    @staticmethod
    def _np(t):
        if isinstance(t, (tuple, list)):
            t = t[0]
        return t.detach().float().cpu().numpy()[0]

    def _out(self, mod, name):
        self.handles.append(mod.register_forward_hook(lambda m, a, o: self.acts.__setitem__(name, self._np(o))))

    def _in(self, mod, name):
        def hook(m, args, kwargs):
            x = args[0] if args else kwargs["hidden_states"]
            self.acts[name] = self._np(x)
        self.handles.append(mod.register_forward_pre_hook(hook, with_kwargs=True))

    def _rope(self, mod):
        def hook(m, a, o):
            cos, sin = o
            half = cos.shape[-1] // 2
            self.acts["rope_cos"] = cos[0, :, :half].detach().float().numpy()
            self.acts["rope_sin"] = sin[0, :, :half].detach().float().numpy()
        self.handles.append(mod.register_forward_hook(hook))

    def close(self):
        for h in self.handles:
            h.remove()


def run_prompt(model, tok, arch: str, ids: list[int], new_tokens: int, seed: int) -> tuple[dict, float]:
    import torch

    torch.manual_seed(seed)
    x = torch.tensor([ids], dtype=torch.long)
    cap = Capture(model, arch)
    try:
        with torch.no_grad():
            out = model(input_ids=x, output_attentions=True, use_cache=False)
    finally:
        cap.close()
    acts = dict(cap.acts)
    arrays: dict[str, np.ndarray] = {"tokens": np.asarray(ids, dtype=np.int32)}
    arrays["tok_emb"] = acts.pop("tok_emb")
    if arch == "gpt2":
        arrays["pos_emb"] = acts.pop("pos_emb")
    else:
        arrays["rope_cos"] = acts.pop("rope_cos")
        arrays["rope_sin"] = acts.pop("rope_sin")
    n_layer = len(out.attentions)
    for i in range(n_layer):
        arrays[f"layer{i}.input"] = acts[f"layer{i}.input"]
        arrays[f"layer{i}.attn_probs"] = out.attentions[i][0].float().numpy()
        arrays[f"layer{i}.attn_out"] = acts[f"layer{i}.attn_out"]
        arrays[f"layer{i}.mlp_out"] = acts[f"layer{i}.mlp_out"]
        arrays[f"layer{i}.resid"] = acts[f"layer{i}.resid"]
    arrays["final_norm"] = acts["final_norm"]
    logits = out.logits[0].float()
    arrays["logits"] = logits.numpy()
    probs = torch.softmax(logits.double(), dim=-1).float().numpy()
    arrays["probs"] = probs
    dev = float(np.max(np.abs(probs.astype(np.float64).sum(-1) - 1.0)))
    if dev > SOFTMAX_TOL:
        raise TCError(f"softmax rows do not sum to 1 (max deviation {dev:.3g} > {SOFTMAX_TOL})")
    arrays["top1"] = np.argmax(arrays["logits"], axis=-1).astype(np.int32)

    greedy, gaps = [], []
    if new_tokens > 0:
        gc = model.generation_config
        saved = gc.eos_token_id
        gc.eos_token_id = None  # always exactly new_tokens tokens: never stop at <|endoftext|>
        try:
            with torch.no_grad():
                g = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=new_tokens,
                                   min_new_tokens=0, do_sample=False, output_logits=True,
                                   return_dict_in_generate=True, pad_token_id=tok.eos_token_id or 0)
        finally:
            gc.eos_token_id = saved
        greedy = g.sequences[0, len(ids):].tolist()
        for step_logits in g.logits:
            top2 = torch.topk(step_logits[0].float(), 2).values
            gaps.append(float(top2[0] - top2[1]))
        if len(greedy) != new_tokens:
            raise TCError(f"generate returned {len(greedy)} tokens, expected {new_tokens}")
        # each step's logits, from generate's KV-cache steps: verify compares the DSL's decode steps
        # (its cache, not a prefill) with them, not only their argmax
        greedy_logits = torch.stack([step_logits[0].float() for step_logits in g.logits]).numpy()
    else:
        greedy_logits = np.zeros((0, logits.shape[-1]), dtype=np.float32)
    arrays["greedy"] = np.asarray(greedy, dtype=np.int32)
    arrays["greedy_gap"] = np.asarray(gaps, dtype=np.float32)
    arrays["greedy_logits"] = greedy_logits
    for k, v in arrays.items():
        if v.dtype == np.float64:
            arrays[k] = v.astype(np.float32)
    return arrays, dev


def _save_npy(path: Path, a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    a = a.astype(a.dtype.newbyteorder("<"))
    buf = io.BytesIO()
    np.save(buf, a)
    data = buf.getvalue()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def export(source: str, prompts_file: Path, out: Path, new_tokens: int = 8, seed: int = DEFAULT_SEED,
           archive: bool = False, quiet: bool = False) -> dict:
    import torch
    import transformers

    if new_tokens < 0:
        raise TCError("--new-tokens must be >= 0")
    prepare_output(Path(out), export_owner, WHAT)  # refuse before running the model, not after
    tar_path = Path(out).absolute().parent / f"{Path(out).name}.tar.gz"
    if archive:
        check_archive_replaceable(tar_path, Path(out).name)
    prompts = read_prompts(prompts_file)
    step = Steps("export", 1 + len(prompts) + (1 if archive else 0), quiet)
    step("loading the model (torch, transformers)")
    model, tok, arch, info = load_model(source)
    n_ctx = n_ctx_of(model, arch)
    # a model folder's own context (--max-ctx), which HF's config need not know: a LongRoPE folder
    # keeps max_position_embeddings, its scale, and is exact only up to N_CTX
    if isinstance(info.get("dsl_folder", {}).get("n_ctx"), int):
        n_ctx = min(n_ctx, info["dsl_folder"]["n_ctx"])
    encoded = []
    for k, p in enumerate(prompts):
        ids = tok(p)["input_ids"]
        if not ids:
            raise TCError(f"prompt {k + 1} tokenizes to nothing")
        if len(ids) + new_tokens > n_ctx:
            raise TCError(f"prompt {k + 1} is too long: {len(ids)} tokens + {new_tokens} new tokens > context {n_ctx}")
        encoded.append(ids)

    model_sha = state_dict_sha256(model)
    index = {
        "format": FORMAT,
        "written_by": WRITTEN_BY,
        "source": source,
        "architecture": arch,
        "model_sha256": model_sha,
        "model_sha256_scheme": "sha256 over sorted state_dict: name utf-8 bytes + float32 little-endian bytes",
        **info,
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__, "numpy": np.__version__},
        "seed": seed,
        "attn_implementation": "eager",
        "compute_dtype": "float32",
        "new_tokens": new_tokens,
        "n_ctx": n_ctx,
        "n_layer": model.config.num_hidden_layers,
        "prompts": [],
        "softmax_check": {"tolerance": SOFTMAX_TOL, "max_row_sum_deviation": 0.0, "passed": True},
    }
    dataset = {"format": DATASET_FORMAT, "source": source, "model_sha256": model_sha, "new_tokens": new_tokens,
               "seed": seed, "prompts": []}
    with atomic_dir(out, export_owner, WHAT) as tmp:
        for k, (p, ids) in enumerate(zip(prompts, encoded)):
            step(f"prompt {k + 1} of {len(prompts)}: {len(ids)} tokens, {new_tokens} greedy steps")
            arrays, dev = run_prompt(model, tok, arch, ids, new_tokens, seed)
            sub = f"p{k:03d}"
            (tmp / sub).mkdir()
            files = []
            for name, a in arrays.items():
                sha = _save_npy(tmp / sub / f"{name}.npy", a)
                files.append({"name": f"{name}.npy", "dtype": str(a.dtype), "shape": list(a.shape), "sha256": sha})
            index["prompts"].append({"dir": sub, "prompt": p, "n_tokens": len(ids),
                                     "softmax_max_row_sum_deviation": dev, "files": files})
            sc = index["softmax_check"]
            sc["max_row_sum_deviation"] = max(sc["max_row_sum_deviation"], dev)
            dataset["prompts"].append({"id": sub, "prompt": p, "tokens": ids, "n_tokens": len(ids),
                                       "top1": arrays["top1"].tolist(), "greedy": arrays["greedy"].tolist(),
                                       "greedy_text": tok.decode(arrays["greedy"].tolist()),
                                       "greedy_gap": [round(float(v), 6) for v in arrays["greedy_gap"]]})
        (tmp / "index.json").write_text(json.dumps(index, indent=1) + "\n")
        (tmp / "dataset.json").write_text(json.dumps(dataset, indent=1) + "\n")
        if archive:
            listing = {"format": ARCHIVE_FORMAT, "files": {}}
            for f in sorted(tmp.rglob("*")):
                if f.is_file():
                    listing["files"][f.relative_to(tmp).as_posix()] = sha256_file(f)
            (tmp / "archive-manifest.json").write_text(json.dumps(listing, indent=1) + "\n")
    if archive:
        step(f"packing {Path(out).name}.tar.gz")
        out = Path(out)
        part = tar_path.parent / f".{out.name}.tar.gz.part-{os.getpid()}"
        try:
            with tarfile.open(part, "w:gz") as tf:
                tf.add(out, arcname=out.name)
            check_archive_replaceable(tar_path, out.name)  # it may have appeared while we worked
            os.replace(part, tar_path)
        finally:
            if part.exists():
                part.unlink()
        index["archive"] = str(tar_path)
    if not quiet:
        print(f"exported {len(prompts)} prompt(s) from {source} -> {out}"
              + (f" (+ {out.name}.tar.gz)" if archive else ""), file=sys.stderr)
    return index
