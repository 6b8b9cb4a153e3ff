"""notebooks/hf-reference-gpt2.ipynb runs headless (nbclient, kernel python3 from this venv)."""
import os
import sys
from pathlib import Path

import pytest

from tensorcore_ref.paths import REPO_ROOT

NB = REPO_ROOT / "notebooks" / "hf-reference-gpt2.ipynb"


def test_notebook_executes(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from jupyter_client.kernelspec import KernelSpecManager

    # the kernel must be this venv's python (ipykernel's built-in python3 spec does that)
    spec = KernelSpecManager().get_kernel_spec("python3")
    assert Path(spec.argv[0]).name.startswith("python")
    # keep the generated HF folder out of the user's cache; one thread
    monkeypatch.setenv("TENSORCORE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    nb = nbformat.read(NB, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert len(images) >= 2, "attention maps and logit distribution plots"
