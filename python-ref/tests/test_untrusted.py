"""Output folders lose nothing that was not ours; model folders read by python-ref stay inside
themselves. Every refusal: exit status 2, a last line `error: ...` naming the folder/file and field."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tensorcore_ref.cli import main
from tensorcore_ref.fsutil import OLD_TAG, TMP_TAG, atomic_dir
from conftest import leftovers


def run_cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr().err


def refused(rc, err, *needles):
    assert rc == 2, err
    lines = [l for l in err.strip().splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, (n, err)


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---- convert --out / export --out ----------------------------------------------------------------


def test_convert_refuses_a_folder_it_did_not_write(tiny_gpt2, tmp_path, capsys):
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "README.md").write_text("my notes")
    (project / "src" / "main.py").write_text("print(1)")
    before = snapshot(project)
    t0 = time.monotonic()
    rc, err = run_cli(capsys, "convert", tiny_gpt2, "--out", project)
    refused(rc, err, str(project), "refusing to replace it", "no manifest.json")
    assert time.monotonic() - t0 < 5, "refused before converting"
    assert snapshot(project) == before
    assert leftovers(tmp_path, "project") == []


def test_convert_refuses_a_file_and_a_foreign_manifest(tiny_gpt2, tmp_path, capsys):
    f = tmp_path / "notes.txt"
    f.write_text("keep me")
    rc, err = run_cli(capsys, "convert", tiny_gpt2, "--out", f)
    refused(rc, err, str(f), "it is a file")
    assert f.read_text() == "keep me"
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps({"format": "someone-else/1", "files": []}))
    rc, err = run_cli(capsys, "convert", tiny_gpt2, "--out", other)
    refused(rc, err, str(other), "not a tensorcore-model/1 manifest")
    forged = tmp_path / "forged"
    forged.mkdir()
    (forged / "manifest.json").write_text(json.dumps({"format": "tensorcore-model/1", "written_by": "me", "tensors": {}}))
    rc, err = run_cli(capsys, "convert", tiny_gpt2, "--out", forged)
    refused(rc, err, "written by 'me'")
    assert (forged / "manifest.json").is_file()


def test_convert_replaces_its_own_output_and_an_empty_folder(tiny_gpt2, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()  # empty: fine
    rc, err = run_cli(capsys, "convert", tiny_gpt2, "--out", out)
    assert rc == 0, err
    m = json.loads((out / "manifest.json").read_text())
    assert m["written_by"] == "tensorcore convert"
    # a manifest from before the marker (as models/embedded's) is recognised by convert's own fields
    del m["written_by"]
    (out / "manifest.json").write_text(json.dumps(m))
    (out / "stale.txt").write_text("from the old folder")
    rc, err = run_cli(capsys, "convert", tiny_gpt2, "--out", out)
    assert rc == 0, err
    assert json.loads((out / "manifest.json").read_text())["written_by"] == "tensorcore convert"
    assert not (out / "stale.txt").exists()
    assert leftovers(tmp_path, "out") == []


def test_a_killed_run_leaves_a_temp_folder_that_the_next_run_removes(tmp_path):
    out = tmp_path / "out"
    code = ("import os, sys; from pathlib import Path; from tensorcore_ref.fsutil import atomic_dir\n"
            "with atomic_dir(Path(sys.argv[1]), lambda p: None, 'x') as tmp:\n"
            "    (tmp / 'half.bin').write_bytes(b'x' * 1000)\n"
            "    os.kill(os.getpid(), 9)\n")
    p = subprocess.Popen([sys.executable, "-c", code, str(out)], env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert p.wait(timeout=60) == -9
    left = leftovers(tmp_path, "out")
    assert len(left) == 1 and left[0].startswith(f".out.{TMP_TAG}-{p.pid}-"), left
    # a live run's temp folder (this process's pid) is not touched
    live = tmp_path / f".out.{TMP_TAG}-{os.getpid()}-0000abcd"
    live.mkdir()
    old = tmp_path / f".out.{OLD_TAG}-{dead_pid()}-1234abcd"
    old.mkdir()
    with atomic_dir(out, lambda p: None, "x") as tmp:
        (tmp / "a").write_text("new")
    assert (out / "a").read_text() == "new"
    assert sorted(leftovers(tmp_path, "out")) == [live.name]


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_unwritable_output_is_a_message(tiny_gpt2, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc, err = run_cli(capsys, "convert", tiny_gpt2, "--out", blocker / "sub")
    refused(rc, err, str(blocker / "sub"), "cannot create the output folder's parent")
    rc, err = run_cli(capsys, "convert", tiny_gpt2, "--out", "/sys/tensorcore-test-out")
    refused(rc, err, "/sys/tensorcore-test-out", "cannot write the output folder")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder_is_a_message(tiny_gpt2, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        rc, err = run_cli(capsys, "convert", tiny_gpt2, "--out", ro / "model")
        refused(rc, err, "cannot write the output folder", "ermission denied")
    finally:
        ro.chmod(0o755)


def test_export_refuses_a_folder_it_did_not_write(tiny_gpt2, tmp_path, capsys):
    out = tmp_path / "refs"
    out.mkdir()
    (out / "data.csv").write_text("1,2,3")
    prompts = tmp_path / "p.txt"
    prompts.write_text("Hello\n")
    rc, err = run_cli(capsys, "export", tiny_gpt2, "--prompts", prompts, "--out", out)
    refused(rc, err, str(out), "no index.json")
    assert (out / "data.csv").read_text() == "1,2,3"


# ---- model folders read by python-ref -------------------------------------------------------------


@pytest.fixture
def folder(embedded, tmp_path):
    """A fresh copy of models/embedded (the original is never modified)."""
    dst = tmp_path / "m"
    shutil.copytree(embedded, dst)
    return dst


def edit(folder: Path, f):
    m = json.loads((folder / "manifest.json").read_text())
    f(m)
    (folder / "manifest.json").write_text(json.dumps(m))


@pytest.mark.parametrize("change,needles", [
    (lambda m: m["tensors"]["wte"].update(file="../outside.safetensors"), ["tensors.wte.file", "contains '..'"]),
    (lambda m: m["tensors"]["wte"].update(file="/etc/passwd"), ["tensors.wte.file", "absolute path"]),
    (lambda m: m.update(tensors=None), ["'tensors' must be an object", "None"]),
    (lambda m: m["tensors"]["wpe"].update(dtype=5), ["tensors.wpe.dtype"]),
    (lambda m: m["tensors"]["wpe"].pop("offset"), ["tensors.wpe", "'offset' is missing"]),
    (lambda m: m["tensors"]["wpe"].update(shape=[128, "64"]), ["tensors.wpe.shape"]),
    (lambda m: m.update(architecture=["gpt2"]), ["'architecture' must be a string"]),
    # what the TypeScript loader refuses, `verify` refuses too (it said ok of these before)
    (lambda m: m.update(architecture="mamba"), ["architecture 'mamba' is not one the libraries instantiate"]),
    (lambda m: m.update(dtype="q4"), ["dtype 'q4', expected one of f32, f16, bf16, int8"]),
    (lambda m: m["tensors"].pop("wpe"), ["no tensor 'wpe'", "convert the HF model again"]),
    (lambda m: m.pop("consts"), ["no const 'VOCAB'", "convert the HF model again"]),
    (lambda m: m["consts"].update(LN_EPS=float("nan")), ["invalid JSON", "NaN is not JSON"]),
])
def test_malformed_manifest(folder, capsys, change, needles):
    (folder.parent / "outside.safetensors").write_bytes((folder / "weights.safetensors").read_bytes())
    edit(folder, change)
    rc, err = run_cli(capsys, "verify", folder)
    refused(rc, err, "manifest.json", *needles)


def test_links_out_fifos_and_directories_are_refused(folder, tmp_path, capsys):
    outside = tmp_path / "outside.safetensors"
    shutil.move(folder / "weights.safetensors", outside)
    (folder / "weights.safetensors").symlink_to(outside)
    rc, err = run_cli(capsys, "verify", folder)
    refused(rc, err, "symbolic link", str(outside), "outside the model folder")
    (folder / "weights.safetensors").unlink()
    (folder / "weights.safetensors").symlink_to("/dev/zero")
    rc, err = run_cli(capsys, "verify", folder)
    refused(rc, err, "/dev/zero")
    (folder / "weights.safetensors").unlink()
    os.mkfifo(folder / "weights.safetensors")
    rc, err = run_cli(capsys, "verify", folder)
    refused(rc, err, "a FIFO, not a regular file")
    (folder / "weights.safetensors").unlink()
    (folder / "weights.safetensors").mkdir()
    rc, err = run_cli(capsys, "verify", folder)
    refused(rc, err, "a directory, not a regular file")


def test_truncated_manifest_and_weights(folder, capsys):
    full = (folder / "manifest.json").read_bytes()
    (folder / "manifest.json").write_bytes(full[:500])
    rc, err = run_cli(capsys, "verify", folder)
    refused(rc, err, "manifest.json", "invalid JSON")
    (folder / "manifest.json").write_bytes(full)
    with open(folder / "weights.safetensors", "r+b") as f:
        f.truncate(4_000_000)
    rc, err = run_cli(capsys, "verify", folder)
    refused(rc, err, "weights.safetensors", "truncated", "tensor 'wte'")


def test_flipped_byte_names_the_tensor(folder, capsys):
    m = json.loads((folder / "manifest.json").read_text())
    off = m["tensors"]["wpe"]["offset"] + 7
    with open(folder / "weights.safetensors", "r+b") as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 1]))
    rc, err = run_cli(capsys, "verify", folder)
    refused(rc, err, "sha256 mismatch for tensor 'wpe'")


# ---- convert's source folder: nothing it reads may come from outside it --------------------------


def refused_convert(rc, err, out: Path, *needles):
    assert rc == 2, err
    lines = [l for l in err.strip().splitlines() if l.strip()]
    assert lines and lines[-1].startswith("error: ") and "Traceback" not in err, err
    for n in needles:
        assert n in err, (n, err)
    assert not out.exists() and leftovers(out.parent, out.name) == []


@pytest.fixture(scope="module")
def sharded(work):
    from tensorcore_ref.make_models import make_model

    return make_model("llama-family", work / "hf-llama-family-sharded-f32", quiet=True, format="sharded")


def edit_index(folder: Path, f):
    index = folder / "model.safetensors.index.json"
    data = json.loads(index.read_text())
    f(data)
    index.write_text(json.dumps(data))


@pytest.mark.parametrize("shard,needle", [
    ("../outside.safetensors", "'../outside.safetensors'"),
    ("ABS", "is '/"),
    ("sub/model.safetensors", "'sub/model.safetensors'"),
    (5, "is 5"),
    (None, "is None"),
])
def test_index_shards_outside_the_folder_are_refused(sharded, tmp_path, capsys, shard, needle):
    """A weight_map entry is a shard file beside the index (as the hub writes them); '..', an
    absolute path or a folder would make from_pretrained read a file outside the model folder."""
    src = tmp_path / "src"
    shutil.copytree(sharded, src)
    first = sorted(src.glob("model-0000*.safetensors"))[0]
    target = {"../outside.safetensors": tmp_path / "outside.safetensors", "ABS": tmp_path / "abs.safetensors",
              "sub/model.safetensors": src / "sub" / "model.safetensors"}.get(shard)
    if target is not None:  # the shard really is there: only the name's form refuses it
        target.parent.mkdir(exist_ok=True)
        shutil.move(first, target)
    value = str(target) if shard == "ABS" else shard
    edit_index(src, lambda d: d["weight_map"].update({k: value for k, v in d["weight_map"].items() if v == first.name}))
    out = tmp_path / "out"
    rc, err = run_cli(capsys, "convert", src, "--out", out)
    refused_convert(rc, err, out, "model.safetensors.index.json: weight_map[", needle, "a shard must be a plain file name")


@pytest.mark.parametrize("change,needle", [
    (lambda d: d.update(weight_map=["model-00001-of-00003.safetensors"]), "got list"),
    (lambda d: d.pop("weight_map"), "got nothing"),
    (lambda d: d.update(weight_map={}), "must be a non-empty object"),
])
def test_malformed_weight_map_is_refused(sharded, tmp_path, capsys, change, needle):
    src = tmp_path / "src"
    shutil.copytree(sharded, src)
    edit_index(src, change)
    out = tmp_path / "out"
    rc, err = run_cli(capsys, "convert", src, "--out", out)
    refused_convert(rc, err, out, str(src / "model.safetensors.index.json"), "weight_map", needle)


@pytest.mark.parametrize("name", ["vocab.json", "tokenizer_config.json", "config.json", "model.safetensors"])
def test_source_links_out_of_the_folder_are_refused(tiny_llama, tmp_path, capsys, name):
    """A tokenizer file linked to a file outside (vocab.json -> /etc/passwd) would be copied byte
    for byte into the output folder; a linked config or weights file read from outside."""
    src = tmp_path / "src"
    shutil.copytree(tiny_llama, src)
    secret = tmp_path / "secret" / name
    secret.parent.mkdir()
    shutil.move(src / name, secret)
    (src / name).symlink_to(secret)
    out = tmp_path / "out"
    rc, err = run_cli(capsys, "convert", src, "--out", out)
    refused_convert(rc, err, out, str(src / name), "symbolic link", str(secret), "outside the model folder")


def test_export_refuses_a_tokenizer_file_linked_out_of_the_folder(tiny_llama, tmp_path, capsys):
    """export hands the folder to AutoTokenizer, which opens the files itself: they are checked first."""
    src = tmp_path / "src"
    shutil.copytree(tiny_llama, src)
    secret = tmp_path / "secret" / "tokenizer_config.json"
    secret.parent.mkdir()
    shutil.move(src / "tokenizer_config.json", secret)
    (src / "tokenizer_config.json").symlink_to(secret)
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps(["Hello"]))
    out = tmp_path / "ref"
    rc, err = run_cli(capsys, "export", src, "--prompts", prompts, "--out", out)
    refused_convert(rc, err, out, str(src / "tokenizer_config.json"), "symbolic link", str(secret))


def hub_snapshot(src: Path, cache: Path, repo: str = "models--tc--tiny") -> Path:
    """src laid out as the HF hub cache does: each file stored once in blobs/ and linked into
    snapshots/<rev>/ by a relative link."""
    import hashlib

    snap = cache / repo / "snapshots" / "0123abcd"
    (cache / repo / "blobs").mkdir(parents=True)
    snap.mkdir(parents=True)
    for f in sorted(src.iterdir()):
        if f.is_file():
            h = hashlib.sha256(f.read_bytes()).hexdigest()
            shutil.copyfile(f, cache / repo / "blobs" / h)
            (snap / f.name).symlink_to(Path("../../blobs") / h)
    return snap


def test_hub_cache_snapshot_converts_and_its_links_stay_in_the_repo(tiny_llama, tmp_path, capsys):
    snap = hub_snapshot(tiny_llama, tmp_path / "hub")
    out = tmp_path / "out"
    rc, err = run_cli(capsys, "convert", snap, "--out", out)
    assert rc == 0, err
    assert (out / "vocab.json").read_bytes() == (tiny_llama / "vocab.json").read_bytes()
    # a blob that links further out, and a link into another cache repo's blobs, are refused
    blob = (snap / "vocab.json").resolve()
    blob.unlink()
    (tmp_path / "secret.json").write_text('{"secret": 1}')
    blob.symlink_to(tmp_path / "secret.json")
    out2 = tmp_path / "out2"
    rc, err = run_cli(capsys, "convert", snap, "--out", out2)
    refused_convert(rc, err, out2, str(snap / "vocab.json"), str(tmp_path / "secret.json"), "outside the model folder")
    other = tmp_path / "hub" / "models--other--repo" / "blobs"
    other.mkdir(parents=True)
    (other / "abc").write_text('{"other": 1}')
    (snap / "vocab.json").unlink()
    (snap / "vocab.json").symlink_to(Path("../../../models--other--repo/blobs/abc"))
    rc, err = run_cli(capsys, "convert", snap, "--out", out2)
    refused_convert(rc, err, out2, str(snap / "vocab.json"), "outside the model folder")


def test_sigterm_removes_the_temp_folder(tmp_path):
    """SIGTERM (kill, a supervisor stopping the run) unwinds as Ctrl-C does: no temp folder stays."""
    import signal

    out = tmp_path / "m"
    p = subprocess.Popen([sys.executable, "-m", "tensorcore_ref", "make-model", "llama-family", "--out", str(out)],
                         stderr=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1])
    deadline = time.monotonic() + 120
    while not leftovers(tmp_path, "m") and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert leftovers(tmp_path, "m"), "the run never started its temp folder"
    p.send_signal(signal.SIGTERM)
    err = p.communicate(timeout=60)[1]
    assert p.returncode == 128 + signal.SIGTERM, err
    assert err.strip().splitlines()[-1] == "error: terminated"
    assert leftovers(tmp_path, "m") == [] and not out.exists()


# ---- tokenizer.json patterns ---------------------------------------------------------------------

PATTERN_CASES = json.loads((Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "tokenizer-patterns.json").read_text())


def test_pattern_backtracking_rule_agrees_with_the_tokenizer():
    """The cases models/tokenizer/regex.ts is tested on (tests/tokenizer.test.ts), with its wording."""
    from tensorcore_ref.regex_cost import backtracking_problem

    for name, p in PATTERN_CASES["accepted"].items():
        assert backtracking_problem(p) is None, name
    for p in PATTERN_CASES["exponential"]:
        assert "repeats a group that itself repeats or has alternatives: matching could take exponential time" in (backtracking_problem(p) or ""), p
    for p in PATTERN_CASES["polynomial"]:
        assert "more than 2 long repeats in one alternative" in (backtracking_problem(p) or ""), p


@pytest.mark.parametrize("command", ["convert", "export"])
def test_a_tokenizer_pattern_hf_would_panic_on_is_refused_first(tiny_llama, tmp_path, capsys, command):
    """tokenizers' Oniguruma gives up on (a+)+b over 40 a's and a c (retry-limit-in-match) and panics,
    printing a Rust backtrace; convert and export refuse the file first, naming the field."""
    src = tmp_path / "src"
    shutil.copytree(tiny_llama, src)
    tj = json.loads((src / "tokenizer.json").read_text())
    tj["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "(a+)+b"}, "behavior": "Isolated", "invert": False}]}
    (src / "tokenizer.json").write_text(json.dumps(tj))
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps(["a" * 40 + "c"]))
    out = tmp_path / "out"
    extra = ["--prompts", prompts] if command == "export" else []
    rc, err = run_cli(capsys, command, src, "--out", out, *extra)
    refused_convert(rc, err, out, str(src / "tokenizer.json"), "pre_tokenizer.pretokenizers[0].pattern",
                    '"(a+)+b"', "exponential time")
    assert "panicked" not in err


def test_export_archive_replaces_only_an_archive_export_packed(tiny_gpt2, tmp_path, capsys):
    """--archive writes DIR.tar.gz beside DIR: a file of that name the user has (or a link) is
    refused before any work and left as it was; the archive an earlier export packed is replaced."""
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps(["Hello"]))
    out = tmp_path / "ref"
    tar = tmp_path / "ref.tar.gz"
    tar.write_bytes(b"my own notes")
    rc, err = run_cli(capsys, "export", tiny_gpt2, "--prompts", prompts, "--out", out, "--new-tokens", 1, "--archive")
    refused(rc, err, str(tar), "--archive would replace it, but it is not a gzip tar archive export packed", "nothing written")
    assert tar.read_bytes() == b"my own notes" and not out.exists()
    tar.unlink()
    tar.symlink_to(prompts)
    rc, err = run_cli(capsys, "export", tiny_gpt2, "--prompts", prompts, "--out", out, "--new-tokens", 1, "--archive")
    refused(rc, err, str(tar), "it is not a regular file")
    assert tar.is_symlink() and json.loads(prompts.read_text()) == ["Hello"]
    tar.unlink()
    for _ in range(2):  # the second run replaces the first one's archive
        rc, err = run_cli(capsys, "export", tiny_gpt2, "--prompts", prompts, "--out", out, "--new-tokens", 1, "--archive")
        assert rc == 0, err
        assert tar.is_file() and (out / "archive-manifest.json").is_file()


@pytest.mark.parametrize("name", ["config.json", "tokenizer_config.json", "merges.txt"])
def test_an_oversized_text_file_is_refused_before_it_is_read(tiny_gpt2, tmp_path, capsys, name):
    """A 300 MiB (sparse) config or tokenizer file is refused by size, naming it, not read whole."""
    src = tmp_path / "src"
    shutil.copytree(tiny_gpt2, src)
    with open(src / name, "r+b") as f:
        f.truncate(300 << 20)
    out = tmp_path / "out"
    t0 = time.monotonic()
    rc, err = run_cli(capsys, "convert", src, "--out", out)
    refused_convert(rc, err, out, str(src / name), f"{300 << 20} bytes, more than the 256 MiB")
    assert time.monotonic() - t0 < 20
