import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tensorcore_ref.paths import EMBEDDED_DIR  # noqa: E402


@pytest.fixture(scope="session")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("tc")


@pytest.fixture(scope="session")
def tiny_gpt2(work):
    """GPT-2 with 3 layers, 6 heads, width 192 (HF save_pretrained folder)."""
    from tensorcore_ref.make_models import make_model

    return make_model("gpt2-tiny-custom", work / "hf-gpt2-tiny", quiet=True, layers=3, heads=6, width=192, ctx=64)


@pytest.fixture(scope="session")
def tiny_llama(work):
    from tensorcore_ref.make_models import make_model

    return make_model("tiny-llama-random", work / "hf-llama-tiny", quiet=True)


@pytest.fixture(scope="session")
def converted(work, tiny_gpt2, tiny_llama):
    """(arch, dtype) -> converted DSL folder (built lazily, once)."""
    from tensorcore_ref.convert import convert

    cache = {}

    def get(arch, dtype):
        if (arch, dtype) not in cache:
            src = tiny_gpt2 if arch == "gpt2" else tiny_llama
            out = work / f"dsl-{arch}-{dtype}"
            convert(str(src), out, dtype=dtype, quiet=True)
            cache[(arch, dtype)] = out
        return cache[(arch, dtype)]

    return get


@pytest.fixture(scope="session")
def embedded():
    if not (EMBEDDED_DIR / "manifest.json").is_file():
        pytest.skip("models/embedded not built")
    return EMBEDDED_DIR


def hf_state_dict(folder: Path):
    """HF tensors read with the safetensors library (independent of the code under test)."""
    from safetensors.torch import load_file

    return load_file(str(Path(folder) / "model.safetensors"))


def manifest(folder: Path) -> dict:
    return json.loads((Path(folder) / "manifest.json").read_text())


def leftovers(parent: Path, name: str):
    """Temp/partial folders that a failed run might have left beside `name`."""
    return [p.name for p in Path(parent).iterdir() if p.name.startswith(f".{name}.")]


def pytest_configure(config):
    # one thread: the machine is shared (training / other engineers) and the models are tiny
    import torch

    torch.set_num_threads(int(os.environ.get("TC_TEST_THREADS", "1")))
