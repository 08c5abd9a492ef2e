"""Disk cache of compiled object code (and of graphnn's plans, graphnn.compiler.plans), keyed
by a hash of everything that determines it.

Input: a key (hex sha256 from ``cache_key``) and object bytes. Output: the bytes back, in this or
a later process. Directory: ``$GRAPHNN_CACHE_DIR`` (``off`` disables the cache), else
``$XDG_CACHE_HOME/graphnn``, else ``~/.cache/graphnn``; entries live in its ``codegen/``
subdirectory as ``<key>.o``.

Entry format: ``MAGIC`` (8 bytes), sha256 of the payload (32 bytes), payload length (8 bytes,
little endian), payload. A short, truncated or corrupted entry is deleted and reported as a miss,
never loaded. Writes go to a temporary file in the same directory and are renamed into place
(``os.replace`` is atomic), so readers see a whole entry or none. Cache I/O errors (read-only
directory, full disk) only cost a recompile.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

MAGIC = b"GNNOBJ1\n"
_HEADER = len(MAGIC) + 32 + 8


def cache_dir() -> Path | None:
    """Where entries live, or None when ``GRAPHNN_CACHE_DIR=off``."""
    configured = os.environ.get("GRAPHNN_CACHE_DIR")
    if configured is not None and configured.strip():
        if configured.strip().lower() == "off":
            return None
        return Path(configured).expanduser() / "codegen"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "graphnn" / "codegen"


def cache_key(parts: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        encoded = part.encode()
        digest.update(len(encoded).to_bytes(8, "little"))  # length-prefixed: no ambiguity
        digest.update(encoded)
    return digest.hexdigest()


def source_stamp(root: Path) -> str:
    """A hash of the Python sources under `root`: each file's relative path, size and
    modification time, the validity rule of Python's own bytecode cache (an edit or a reinstall
    changes them; reading every file instead measured 7 ms per process for graphnn)."""
    lines = []
    start = len(os.path.join(str(root), ""))
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [d for d in subfolders if d != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                info = os.stat(path)
                lines.append(f"{path[start:]}\0{info.st_size}\0{info.st_mtime_ns}\n")
    return hashlib.sha256("".join(sorted(lines)).encode()).hexdigest()


def entry_path(key: str) -> Path | None:
    directory = cache_dir()
    return None if directory is None else directory / f"{key}.o"


def load(key: str) -> bytes | None:
    """The payload stored under ``key``; None on a miss (a bad entry is deleted first)."""
    path = entry_path(key)
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    payload = data[_HEADER:]
    digest = data[len(MAGIC): len(MAGIC) + 32]
    length = int.from_bytes(data[len(MAGIC) + 32: _HEADER], "little")
    if (len(data) < _HEADER or not data.startswith(MAGIC) or length != len(payload)
            or hashlib.sha256(payload).digest() != digest):
        try:
            path.unlink()
        except OSError:
            pass
        return None
    return payload


def store(key: str, payload: bytes) -> None:
    path = entry_path(key)
    if path is None:
        return
    entry = MAGIC + hashlib.sha256(payload).digest() + len(payload).to_bytes(8, "little") + payload
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".o")
        try:
            with os.fdopen(handle, "wb") as f:
                f.write(entry)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        return
