"""python -m tensorcore_ref <command> ...  (also `tensorcore hf <command> ...`)."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from .errors import TCError, Terminated


def _env():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m tensorcore_ref",
                                 description="TensorCore HF reference tools (conversion, reference activations, models)")
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="command")

    c = sub.add_parser("convert", help="HF model (GPT-2, Llama, Qwen2, Qwen3, Mistral, Gemma, Gemma 2, Gemma 3 (text; the language model of image-text checkpoints), Phi-3, Granite, GPT-NeoX) -> DSL model folder")
    c.add_argument("source", help="hub id or save_pretrained folder")
    c.add_argument("--out", required=True, type=Path, help="output model folder: written beside it and swapped in; replaced only if missing, empty or written by convert")
    c.add_argument("--dtype", default="f32", choices=["f32", "f16", "bf16", "int8"])
    c.add_argument("--max-ctx", type=int, default=None, help="cap N_CTX (position table rows)")
    c.add_argument("--ignore-unknown-config", action="store_true",
                   help="convert even if config.json has fields the generator does not know")

    e = sub.add_parser("export", help="reference activations for prompts (HF eager, fp32)")
    e.add_argument("source", help="hub id, save_pretrained folder or DSL model folder")
    e.add_argument("--prompts", required=True, type=Path, help="one prompt per line, or a JSON list of strings")
    e.add_argument("--out", required=True, type=Path, help="output folder: written beside it and swapped in; replaced only if missing, empty or written by export")
    e.add_argument("--new-tokens", type=int, default=8, help="greedy tokens to generate (default 8)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--archive", action="store_true", help="also pack OUT into OUT.tar.gz")

    m = sub.add_parser("make-model", help="build one of the project's HF models with save_pretrained")
    from .make_models import FORMATS, NAMES, SOURCE_DTYPES
    m.add_argument("name", choices=NAMES)
    m.add_argument("--out", type=Path, default=None, help="default: ~/.cache/tensorcore/models/<name>")
    # no argparse defaults: an option the model ignores is refused, so make_model must see which were given
    m.add_argument("--layers", type=int, help="gpt2-tiny-custom: layers (default 3)")
    m.add_argument("--heads", type=int, help="gpt2-tiny-custom: attention heads (default 6)")
    m.add_argument("--width", type=int, help="gpt2-tiny-custom: model width (default 192)")
    m.add_argument("--ctx", type=int, help="gpt2-tiny-custom: positions (default 128)")
    m.add_argument("--seed", type=int, help="gpt2-tiny-custom, tiny-llama-random, family models (default 0)")
    m.add_argument("--format", choices=FORMATS,
                   help="family models: safetensors (default), sharded (model.safetensors.index.json) or bin (pytorch_model.bin)")
    m.add_argument("--source-dtype", choices=SOURCE_DTYPES, help="family models: the saved weights' dtype (default f32)")

    g = sub.add_parser("export-gguf", help="HF GPT-2/Llama model -> one GGUF file for llama.cpp")
    g.add_argument("source", help="hub id or save_pretrained folder")
    g.add_argument("--out", required=True, type=Path, help="output .gguf file (replaced atomically)")
    g.add_argument("--dtype", default="f32", choices=["f32", "f16", "bf16", "q8_0"],
                   help="matrices' type (norms, biases and GPT-2's position table stay f32)")

    v = sub.add_parser("verify", help="check a DSL model folder's manifest and sha256s")
    v.add_argument("folder", type=Path)
    return ap


def _on_sigterm(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    _env()
    args = build_parser().parse_args(argv)
    # SIGTERM (kill, a supervisor stopping us) unwinds like Ctrl-C, so that no temp folder is left
    # behind; the previous handler comes back when main returns (tests call main in-process)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _run(args)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run(args) -> int:
    try:
        if args.cmd == "convert":
            from .convert import convert
            convert(args.source, args.out, dtype=args.dtype, max_ctx=args.max_ctx,
                    ignore_unknown=args.ignore_unknown_config)
        elif args.cmd == "export":
            from .export import export
            export(args.source, args.prompts, args.out, new_tokens=args.new_tokens, seed=args.seed,
                   archive=args.archive)
        elif args.cmd == "make-model":
            from .make_models import make_model
            kw = {k: getattr(args, k) for k in ("layers", "heads", "width", "ctx", "seed", "format", "source_dtype")
                  if getattr(args, k) is not None}
            out = make_model(args.name, args.out, **kw)
            print(out)
        elif args.cmd == "export-gguf":
            from .gguf_export import export_gguf
            export_gguf(args.source, args.out, dtype=args.dtype)
        elif args.cmd == "verify":
            from .convert import verify_folder
            m = verify_folder(args.folder)
            print(f"ok: {args.folder} ({m['architecture']}, {m['dtype']}, {len(m['tensors'])} tensors)")
    except TCError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a file that cannot be read or written: say which, without a traceback
        where = f"{e.filename}: " if e.filename else ""
        print(f"error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: out of memory", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("error: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    return 0
