"""Linking an exported object file into a shared library with a C compiler driver.

Input: an object file, the output path and the system libraries it needs. Output: the shared
library, or ``LinkerNotFound`` / ``LinkError`` saying what to do.

The driver is, in order: ``$CC`` when set and found on PATH; ``cc`` on PATH; else the C
compiler inside the ``ziglang`` package (``pip install "graphnn[aot]"``), so that pip alone
can build a library. The library is marked ``-z nodelete``: the thread pool's workers live in
its code, so it must stay mapped once loaded (``dlclose`` leaves it in place). Its soname is
its file name, so a program linked with it finds it by name (next to it with
``-Wl,-rpath,'$ORIGIN'``, or on the loader's path).
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

TIMEOUT = 300                 # seconds; ziglang's first link builds its libc stubs
INSTALL = ("install a C compiler (Debian/Ubuntu: apt-get install gcc; Fedora: dnf install "
           "gcc; macOS: xcode-select --install), or pip install \"graphnn[aot]\" for the "
           "ziglang package's bundled one, or export a .o and link it yourself")


class LinkerNotFound(RuntimeError):
    """No C compiler driver to link a shared library with."""


class LinkError(RuntimeError):
    """The linker ran and failed; the message holds its command and output."""


def linker(environ: Mapping[str, str]) -> list[str]:
    """The command that links, found through `environ`'s CC and PATH (see the module
    docstring); LinkerNotFound when there is none."""
    search = environ.get("PATH") or None
    if search is not None:
        wanted = shlex.split(environ.get("CC", "")) or ["cc"]
        found = shutil.which(wanted[0], path=search)
        if found is not None:
            return [found, *wanted[1:]]
        if wanted != ["cc"]:
            found = shutil.which("cc", path=search)
            if found is not None:
                return [found]
    zig = ziglang_command()
    if zig is not None:
        return zig
    raise LinkerNotFound(f"no C compiler on PATH ({environ.get('PATH', '')!r}) to link a "
                         f"shared library: {INSTALL}")


def ziglang_command() -> list[str] | None:
    """`python -m ziglang cc` when the ziglang package is installed."""
    if importlib.util.find_spec("ziglang") is None:
        return None
    return [sys.executable, "-m", "ziglang", "cc"]


def link_shared(obj: Path, out: Path, libraries: list[str],
                environ: Mapping[str, str]) -> list[str]:
    """Link `obj` into the shared library `out` with `libraries` (["m", "pthread"]); the
    command that did it."""
    command = [*linker(environ), "-shared", "-o", str(out), str(obj), "-Wl,-z,nodelete",
               f"-Wl,-soname,{out.name}", *(f"-l{name}" for name in libraries)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT,
                              env=dict(environ), stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise LinkError(f"{shlex.join(command)} failed: {error}") from None
    if done.returncode != 0:
        raise LinkError(f"{shlex.join(command)} failed (exit status {done.returncode}):\n"
                        f"{(done.stderr or done.stdout).strip()}")
    return command


def shared_suffix(platform: str = sys.platform) -> str:
    """The platform's suffix of shared libraries."""
    return ".dll" if platform.startswith(("win", "cygwin")) else \
        ".dylib" if platform == "darwin" else ".so"


def environment() -> dict[str, str]:
    """This process's environment: where the linker is looked for."""
    return dict(os.environ)
