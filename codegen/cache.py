"""Disk cache of compiled object code and of graphnn's plans, keyed by a hash of everything that
determines an entry; every entry says what it is and is checked against the request.

Input: a kind (``KINDS``: "plan", "kernel" object, "generated" runtime object), a key (hex
sha256 from ``cache_key``) and payload bytes. Output: the payload back, in this or a later
process, or None. Directory: ``$GRAPHNN_CACHE_DIR`` (``off`` disables the cache), else
``$XDG_CACHE_HOME/graphnn``, else ``~/.cache/graphnn``; entries live in its ``codegen/``
subdirectory as ``<key>.<kind>``.

Entry format: ``MAGIC`` (8 bytes, the format version), the kind (16 bytes, NUL-padded ASCII),
the key (its 32 raw bytes), the payload length (8 bytes, little endian), sha256 of all of that
and the payload (32 bytes), the payload. An entry is used only if it is a regular file of ours
whose magic, kind, key, length and checksum all match the request; anything else at an entry's
path (a truncated, damaged or foreign entry, another key's entry copied or renamed there, a
symlink, a FIFO, a directory, an unreadable file) is evicted and reported as a miss, so the
caller rebuilds it and stores a good entry in its place. Nothing at an entry path is opened
unless ``lstat`` says it is a regular file, and then with ``O_NOFOLLOW | O_NONBLOCK``: a FIFO or
a device never blocks a compile. Writes go to a temporary file in the same directory and are
renamed into place (atomic), so concurrent readers and writers see a whole entry or none. Cache
I/O errors (read-only directory, full disk) only cost a recompile.

Threat model. The directory must be owned by the user running graphnn and not writable by its
group or others (checked on the opened directory, so a symlink or a swapped path cannot get
around it); graphnn creates it with mode 0700 and refuses any other (a ``CacheWarning``, and
compiles without the cache): a directory shared between users is never read, so it is not a
path for one user to run code in another's process. Whoever can write the directory can already
run code as its owner, so entries are not authenticated against them: the checks above catch
accidents (disk damage, truncation, partial or concurrent writes, copies, other versions,
stray files), not forgery. Payloads are not trusted beyond that either: plans are data (JSON
and raw arrays, never pickles) that rebuild a kernel through its checked constructors, and an
object file is checked structurally (codegen.objectfile) before LLVM's linker sees it.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
import warnings
from collections.abc import Iterable
from pathlib import Path

MAGIC = b"GNNENT2\n"
KINDS = ("plan", "kernel", "generated")
_KIND_BYTES = 16
_PREFIX = len(MAGIC) + _KIND_BYTES + 32 + 8        # what the checksum covers before the payload
HEADER = _PREFIX + 32
MAX_ENTRY_BYTES = 1 << 30
_NOFOLLOW, _CLOEXEC = getattr(os, "O_NOFOLLOW", 0), getattr(os, "O_CLOEXEC", 0)
# never follow a symlink at an entry path, never wait for a FIFO's writer or a device
_READ = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | _CLOEXEC
_WRITE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
_DIRECTORY = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC


class CacheWarning(UserWarning):
    """The cache directory is not safe to use (shared or foreign): compiling without it."""


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


def entry_name(kind: str, key: str) -> str:
    """The file name of an entry inside ``cache_dir()``."""
    if kind not in KINDS:
        raise ValueError(f"cache entry kind must be one of {KINDS}, got {kind!r}")
    if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
        raise ValueError(f"cache key must be 64 lowercase hex digits, got {key!r}")
    return f"{key}.{kind}"


def _prefix(kind: str, key: str, length: int) -> bytes:
    return MAGIC + kind.encode().ljust(_KIND_BYTES, b"\0") + bytes.fromhex(key) + \
        length.to_bytes(8, "little")


def encode_entry(kind: str, key: str, payload: bytes) -> bytes:
    """The bytes of an entry holding ``payload`` (what ``store`` writes)."""
    entry_name(kind, key)                      # checks both
    prefix = _prefix(kind, key, len(payload))
    digest = hashlib.sha256(prefix)
    digest.update(payload)
    return prefix + digest.digest() + payload


def decode_entry(kind: str, key: str, data: bytes) -> bytes | None:
    """The payload of entry bytes ``data`` if they are a whole, undamaged entry for exactly
    this kind and key; else None."""
    length = len(data) - HEADER
    if length < 0:
        return None
    prefix = _prefix(kind, key, length)
    if data[:_PREFIX] != prefix:
        return None
    digest = hashlib.sha256(prefix)
    digest.update(memoryview(data)[HEADER:])
    if digest.digest() != data[_PREFIX:HEADER]:
        return None
    return data[HEADER:]


def load(kind: str, key: str) -> bytes | None:
    """The payload stored under ``kind`` and ``key``; None on a miss (after evicting whatever
    bad entry was there)."""
    name = entry_name(kind, key)
    directory = _open_directory(create=False)
    if directory is None:
        return None
    try:
        data = _read_entry(directory, name)
        payload = None if data is None else decode_entry(kind, key, data)
        if payload is None:
            _evict(directory, name)
        return payload
    except FileNotFoundError:
        return None
    finally:
        os.close(directory)


def evict(kind: str, key: str) -> None:
    """Remove the entry (a caller found its payload unusable); the next ``store`` rebuilds it."""
    name = entry_name(kind, key)
    directory = _open_directory(create=False)
    if directory is not None:
        try:
            _evict(directory, name)
        finally:
            os.close(directory)


def store(kind: str, key: str, payload: bytes) -> None:
    """Write the entry atomically (replacing whatever is at its path)."""
    name = entry_name(kind, key)
    entry = encode_entry(kind, key, payload)
    directory = _open_directory(create=True)
    if directory is None:
        return
    temporary = f".tmp-{secrets.token_hex(8)}"
    try:
        with os.fdopen(os.open(temporary, _WRITE, 0o600, dir_fd=directory), "wb") as f:
            f.write(entry)
        try:
            os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
        except OSError:            # a directory at the entry path: os.replace cannot replace it
            _evict(directory, name)
            os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
    except BaseException as error:
        _remove(directory, temporary)
        if not isinstance(error, OSError):
            raise
    finally:
        os.close(directory)


def _open_directory(create: bool) -> int | None:
    """A descriptor of the cache directory if it is safe to use (see the module docstring);
    None when the cache is off, missing (and not to be created) or refused."""
    path = cache_dir()
    if path is None:
        return None
    try:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.mkdir(path, 0o700)
            except FileExistsError:
                pass
        directory = os.open(path, _DIRECTORY)
    except OSError:
        return None
    problem = _unsafe(os.fstat(directory))
    if problem is None:
        return directory
    os.close(directory)
    warnings.warn(f"graphnn: not using the compile cache {path}: {problem}; compiling without "
                  "it (make it your own and not group/world-writable, or set "
                  "GRAPHNN_CACHE_DIR)", CacheWarning, stacklevel=3)
    return None


def _unsafe(info: os.stat_result) -> str | None:
    if not stat.S_ISDIR(info.st_mode):
        return "not a directory"
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        return f"owned by uid {info.st_uid}, not by this user ({os.geteuid()})"
    if info.st_mode & 0o022:
        return f"writable by its group or others (mode {stat.filemode(info.st_mode)})"
    return None


def _read_entry(directory: int, name: str) -> bytes | None:
    """The bytes of a regular file of ours at ``name``; None for anything else (evicted by the
    caller). Raises FileNotFoundError when nothing is there."""
    try:
        info = os.stat(name, dir_fd=directory, follow_symlinks=False)
    except FileNotFoundError:
        raise
    except OSError:
        return None
    if not _own_file(info):
        return None
    try:
        handle = os.open(name, _READ, dir_fd=directory)
    except FileNotFoundError:
        raise
    except OSError:                # unreadable, or swapped for a symlink or FIFO since lstat
        return None
    with os.fdopen(handle, "rb") as f:
        opened = os.fstat(f.fileno())
        if not _own_file(opened) or (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
            return None
        try:
            return f.read(opened.st_size + 1)  # + 1: a file still growing reads as damaged
        except OSError:
            return None


def _own_file(info: os.stat_result) -> bool:
    mine = not hasattr(os, "geteuid") or info.st_uid == os.geteuid()
    return stat.S_ISREG(info.st_mode) and mine and info.st_size <= MAX_ENTRY_BYTES


def _evict(directory: int, name: str) -> None:
    """Remove whatever is at ``name``: a file, a link, a FIFO, or a directory tree."""
    try:
        info = os.stat(name, dir_fd=directory, follow_symlinks=False)
    except OSError:
        return
    if stat.S_ISDIR(info.st_mode):
        _remove_tree(directory, name)
    else:
        _remove(directory, name)


def _remove(directory: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=directory)
    except OSError:
        pass


def _remove_tree(directory: int, name: str) -> None:
    """Delete a directory tree below ``directory`` without following any symlink (by
    descriptor, iteratively: depth is no limit)."""
    stack: list[tuple[int, str, int | None]] = [(directory, name, None)]
    while stack:
        parent, entry, handle = stack.pop()
        if handle is not None:     # its contents are gone (they were above it on the stack)
            os.close(handle)
            try:
                os.rmdir(entry, dir_fd=parent)
            except OSError:
                pass
            continue
        try:
            handle = os.open(entry, _DIRECTORY | _NOFOLLOW, dir_fd=parent)
        except OSError:            # not a directory after all
            _remove(parent, entry)
            continue
        stack.append((parent, entry, handle))
        try:
            with os.scandir(handle) as children:
                for child in children:
                    if child.is_dir(follow_symlinks=False):
                        stack.append((handle, child.name, None))
                    else:
                        _remove(handle, child.name)
        except OSError:            # unlistable: its rmdir fails and the store after it too
            pass
