"""Output folders that lose nothing, and input folders that stay inside themselves.

Output: build in a fresh temp folder beside the target, swap it in at the end, and only replace a
target that is missing, empty, or recognisably ours (the caller says how to recognise it). Temp
folders are named `.NAME.tensorcore-tmp-PID-RANDOM` so that a later run removes those of dead runs.

Input: every file a manifest names resolves (after symbolic links) to a regular file inside the
folder. docs/security.md states these guarantees.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
from pathlib import Path
from typing import Callable, Optional

from .errors import TCError

TMP_TAG = "tensorcore-tmp"
OLD_TAG = "tensorcore-old"

# owned(folder) -> None when the folder is one this tool wrote, else the reason it is not
Owner = Callable[[Path], Optional[str]]


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def clean_stale(parent: Path, name: str) -> list[str]:
    """Remove `.NAME.tensorcore-{tmp,old}-PID-*` folders beside NAME whose run has died."""
    pat = re.compile(rf"^\.{re.escape(name)}\.(?:{TMP_TAG}|{OLD_TAG})-(\d+)-[0-9a-f]+$")
    removed = []
    try:
        entries = list(Path(parent).iterdir())
    except OSError:
        return removed
    for p in entries:
        m = pat.match(p.name)
        if m and not _pid_alive(int(m.group(1))) and p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
    return removed


def check_replaceable(target: Path, owned: Owner, what: str) -> None:
    """Refuse (TCError) unless `target` is missing, an empty folder, or a folder `owned` recognises."""
    target = Path(target)
    if not os.path.lexists(target):
        return
    if target.is_symlink():
        raise TCError(f"{target}: refusing to replace it: it is a symbolic link (give --out a new or empty folder)")
    if not target.is_dir():
        raise TCError(f"{target}: refusing to replace it: it is a file, not a folder (give --out a new or empty folder)")
    try:
        empty = not any(target.iterdir())
    except OSError as e:
        raise TCError(f"{target}: cannot read it ({e.strerror})") from None
    if empty:
        return
    reason = owned(target)
    if reason is not None:
        raise TCError(f"{target}: refusing to replace it: {reason}, so it is not a {what}; "
                      "give --out a new or empty folder, or remove it yourself")


def _mkdir_for(target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TCError(f"{target}: cannot create the output folder's parent {target.parent} ({e.strerror})") from None


def _new_tmp(target: Path) -> Path:
    tmp = target.parent / f".{target.name}.{TMP_TAG}-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        tmp.mkdir(mode=0o777)  # the umask applies, as for any new folder
    except OSError as e:
        raise TCError(f"{target}: cannot write the output folder in {target.parent} ({e.strerror})") from None
    return tmp


def prepare_output(target: Path, owned: Owner, what: str) -> None:
    """Everything that can refuse an output folder, checked before the work that fills it:
    its parent can be created and written, and the folder itself may be replaced."""
    target = Path(target).absolute()
    _mkdir_for(target)
    clean_stale(target.parent, target.name)
    check_replaceable(target, owned, what)
    _new_tmp(target).rmdir()


@contextlib.contextmanager
def atomic_dir(target: Path, owned: Owner, what: str):
    """Yields a fresh temp folder beside ``target``; on success it replaces ``target``.

    ``target`` is replaced only if it is missing, empty, or ``owned(target)`` returns None (checked
    before and again just before the swap). On any exception the temp folder is removed and
    ``target`` is left as it was.
    """
    target = Path(target).absolute()
    _mkdir_for(target)
    clean_stale(target.parent, target.name)
    check_replaceable(target, owned, what)
    tmp = _new_tmp(target)
    try:
        yield tmp
        check_replaceable(target, owned, what)  # it may have changed while we worked
        old = None
        if os.path.lexists(target):
            old = target.parent / f".{target.name}.{OLD_TAG}-{os.getpid()}-{secrets.token_hex(4)}"
            os.rename(target, old)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def is_hub_blob(real_dir: Path, real: Path) -> bool:
    """True when ``real_dir`` is a snapshot of the Hugging Face hub cache (``models--*/snapshots/<rev>``)
    and ``real`` a file of the same cache repo's ``blobs`` folder: the cache stores every file there
    once and links it into each snapshot (``snapshots/<rev>/config.json -> ../../blobs/<hash>``).
    Both paths are resolved: a blob that links further out, or a ``blobs`` that is itself a link,
    resolves elsewhere and is not accepted."""
    repo = real_dir.parent.parent
    return (real_dir.parent.name == "snapshots" and repo.name.startswith("models--")
            and real.parent == repo / "blobs")


def confined_file(folder: Path, rel, where: str, hub_blobs: bool = False) -> Path:
    """The real path of ``rel`` inside ``folder``: relative, no '..', a regular file inside it.

    hub_blobs: ``folder`` may be a hub cache snapshot whose files link into its repo's blobs
    (is_hub_blob); for source folders, never for model folders this project writes."""
    if not isinstance(rel, str) or not rel:
        raise TCError(f"{where}: expected a file name, got {rel!r}")
    if "\0" in rel:
        raise TCError(f"{where}: the file name contains a NUL character")
    if os.path.isabs(rel) or re.match(r"^[A-Za-z]:", rel):
        raise TCError(f"{where}: {rel!r} is an absolute path; files must be inside the model folder")
    if ".." in re.split(r"[\\/]", rel):
        raise TCError(f"{where}: {rel!r} contains '..'; files must be inside the model folder")
    real_dir = Path(os.path.realpath(folder))
    p = Path(folder) / rel
    if not os.path.lexists(p):
        raise TCError(f"{where}: {rel!r} is missing ({p})")
    real = Path(os.path.realpath(p))
    inside = real != real_dir and real_dir in real.parents
    if not inside and not (hub_blobs and is_hub_blob(real_dir, real)):
        raise TCError(f"{where}: {rel!r} is a symbolic link to {real}, outside the model folder")
    try:
        mode = real.stat().st_mode
    except OSError as e:
        raise TCError(f"{where}: cannot open {rel!r} ({e.strerror})") from None
    if not stat.S_ISREG(mode):
        kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")
        raise TCError(f"{where}: {rel!r} is {kind}, not a regular file")
    return real
