"""The disk cache (codegen/cache.py) as compile_kernel uses it: a hit, and every way an entry
can be wrong (damaged, another key's, another kind's, valid checksum over wrong bytes, not a
regular file, not ours, written concurrently), each ending in a rebuilt, correct kernel with
the bad entry replaced; the directory's ownership rules."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from codegen import cache, jit, loops
from codegen.jit import compile_kernel
from codegen.llvm.target import Target
from codegen.options import CodegenOptions
from tests.codegen.support import elementwise
from tests.harness import changed_fields, run_in_threads

ROOT = Path(__file__).parents[2]
X = np.linspace(-3, 3, 19, dtype=np.float32)
SIGMOID = 1 / (1 + np.exp(-X.astype(np.float64)))


def sigmoid(name: str = "sigmoid") -> loops.Kernel:
    return elementwise(name, "f32", 19, 1, lambda x: 1.0 / (1.0 + loops.exp(-x)))


@pytest.fixture
def directory(tmp_path, monkeypatch) -> Path:
    """A fresh cache; the directory holding its entries."""
    monkeypatch.setenv("GRAPHNN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "codegen"


def cached(directory: Path, kernel: loops.Kernel) -> tuple[Path, bytes]:
    """Compile into the empty cache; the kernel's entry and its bytes."""
    assert not compile_kernel(kernel).from_cache
    (entry,) = directory.glob("*.kernel")
    return entry, entry.read_bytes()


def assert_rebuilt(kernel: loops.Kernel, entry: Path, good: bytes) -> None:
    """The next compile rebuilds a correct kernel, the entry is good again, then a hit."""
    rebuilt = compile_kernel(kernel)
    assert not rebuilt.from_cache
    assert entry.is_file() and not entry.is_symlink() and entry.read_bytes() == good
    np.testing.assert_allclose(rebuilt(X), SIGMOID, rtol=2e-7)
    assert compile_kernel(kernel).from_cache


def test_a_second_compile_is_a_hit_and_the_entry_names_itself(directory):
    kernel = sigmoid("hit")
    entry, data = cached(directory, kernel)
    second = compile_kernel(kernel)
    assert second.from_cache
    np.testing.assert_allclose(second(X), SIGMOID, rtol=2e-7)
    key = entry.name.removesuffix(".kernel")
    assert data.startswith(cache.MAGIC + b"kernel\0")
    assert data[len(cache.MAGIC) + 16:][:32] == bytes.fromhex(key)   # the key, in full
    assert cache.decode_entry("kernel", key, data) is not None
    assert cache.decode_entry("plan", key, data) is None             # its kind, checked
    assert compile_kernel(kernel, blas=False).from_cache             # no Gemm: the same key


def test_every_field_of_the_options_reaches_the_key(directory):
    # the key hashes the options' repr: a field added to CodegenOptions is in it by itself
    kernel, host = sigmoid("keyed"), Target.host()
    key = jit.kernel_key(kernel, "blas", host, CodegenOptions())
    keys = {name: jit.kernel_key(kernel, "blas", host, other)
            for name, other in changed_fields(CodegenOptions())}
    assert {"stage_size", "parallel_min_work"} <= set(keys)
    assert key not in keys.values() and len(set(keys.values())) == len(keys)
    compile_kernel(kernel)
    assert not compile_kernel(kernel, options=CodegenOptions(stage_size=10)).from_cache


def test_off_disables_the_cache(monkeypatch):
    monkeypatch.setenv("GRAPHNN_CACHE_DIR", "off")
    assert not compile_kernel(sigmoid("off")).from_cache
    assert not compile_kernel(sigmoid("off")).from_cache
    assert cache.cache_dir() is None


def test_default_directory_honors_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("GRAPHNN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "graphnn" / "codegen"


def test_source_stamp_changes_with_an_edit_and_ignores_bytecode(tmp_path):
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    module = tmp_path / "pkg" / "a.py"
    module.write_text("X = 1\n")
    stamp = cache.source_stamp(tmp_path)
    (tmp_path / "pkg" / "__pycache__" / "a.py").write_text("stale")
    (tmp_path / "pkg" / "notes.txt").write_text("not source")
    assert cache.source_stamp(tmp_path) == stamp
    module.write_text("X = 2\n")                      # same size: the time tells
    os.utime(module, ns=(1, os.stat(module).st_mtime_ns + 1_000_000))
    assert cache.source_stamp(tmp_path) != stamp


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "garbage", "appended"])
def test_a_damaged_entry_is_rebuilt(directory, damage):
    kernel = sigmoid(f"damaged_{damage}")
    entry, good = cached(directory, kernel)
    entry.write_bytes({"truncate": good[: len(good) // 2],
                       "flip": good[:-10] + bytes([good[-10] ^ 0xFF]) + good[-9:],
                       "empty": b"", "garbage": b"not an object file at all",
                       "appended": good + b"\0"}[damage])
    assert_rebuilt(kernel, entry, good)


def test_an_entry_copied_from_another_key_is_rebuilt(directory):
    # the reproducer, for object code: another kernel's whole entry (valid checksum)
    # under this key would link and compute the other kernel
    kernel, other = sigmoid("copied"), elementwise("copied", "f32", 19, 1, lambda x: x * 2.0)
    entry, good = cached(directory, kernel)
    entry.unlink()
    assert not compile_kernel(other).from_cache
    (other_entry,) = directory.glob("*.kernel")
    shutil.copyfile(other_entry, entry)
    assert_rebuilt(kernel, entry, good)


def test_an_entry_of_another_kind_is_rebuilt(directory):
    kernel = sigmoid("kind")
    entry, good = cached(directory, kernel)
    key = entry.name.removesuffix(".kernel")
    entry.write_bytes(cache.encode_entry("generated", key, good[cache.HEADER:]))
    assert_rebuilt(kernel, entry, good)


def _object_of(kernel: loops.Kernel, key: str | None) -> bytes:
    from codegen.llvm.module import build_module
    return jit.emit(str(build_module(kernel).module), Target.host(), jit.kernel_level(kernel), key)


@pytest.mark.parametrize("payload", ["garbage", "truncated", "other kernel", "no key inside",
                                     "plan data"])
def test_a_valid_checksum_over_wrong_bytes_is_rebuilt(directory, payload):
    # the header is right (kind, key, length, checksum), the payload is not this kernel's
    other = elementwise("wrong_bytes", "f32", 19, 1, lambda x: x * 2.0)   # same entry symbol
    compile_kernel(other)
    (other_entry,) = directory.glob("*.kernel")
    kernel = sigmoid("wrong_bytes")
    compile_kernel(kernel)
    (entry,) = set(directory.glob("*.kernel")) - {other_entry}
    good = entry.read_bytes()
    key = entry.name.removesuffix(".kernel")
    wrong = {"garbage": b"\x7fELF" + bytes(range(256)) * 4,
             "truncated": good[cache.HEADER:][:700],
             "other kernel": other_entry.read_bytes()[cache.HEADER:],
             "no key inside": _object_of(kernel, None),
             "plan data": json.dumps({"format": "plan 2"}).encode()}[payload]
    cache.store("kernel", key, wrong)
    assert_rebuilt(kernel, entry, good)


def test_an_object_that_fails_to_link_is_evicted(directory, monkeypatch):
    # the check passes but the linker refuses (here: a symbol the process does not have):
    # evicted and rebuilt, never left to fail on every later compile
    kernel = sigmoid("unlinkable")
    entry, good = cached(directory, kernel)
    real_link, calls = jit._link, []

    def link_once_failing(data, name, exports, imports):
        calls.append(data)
        if len(calls) == 1:
            raise RuntimeError("Symbols not found: [ something ]")
        return real_link(data, name, exports, imports)

    monkeypatch.setattr(jit, "_link", link_once_failing)
    assert_rebuilt(kernel, entry, good)
    assert calls[0] == good[cache.HEADER:]          # the cached object was tried first


def test_a_symlink_at_the_entry_path_is_not_followed(directory, tmp_path):
    kernel = sigmoid("symlink")
    entry, good = cached(directory, kernel)
    elsewhere = tmp_path / "elsewhere.kernel"
    elsewhere.write_bytes(good)                     # even a good entry, elsewhere, is not read
    entry.unlink()
    entry.symlink_to(elsewhere)
    assert_rebuilt(kernel, entry, good)
    assert elsewhere.read_bytes() == good           # the link's target is left alone


def test_a_directory_at_the_entry_path_is_removed(directory):
    kernel = sigmoid("directory")
    entry, good = cached(directory, kernel)
    entry.unlink()
    (entry / "a" / "b").mkdir(parents=True)
    (entry / "a" / "b" / "file").write_bytes(good)
    (entry / "link").symlink_to(directory)          # removed as a link, not followed
    assert_rebuilt(kernel, entry, good)
    assert directory.is_dir()


def test_an_unreadable_entry_is_rebuilt(directory, monkeypatch):
    kernel = sigmoid("unreadable")
    entry, good = cached(directory, kernel)
    entry.chmod(0)
    if os.geteuid() == 0:
        # permissions do not stop root: fail the first open as it would fail for a user
        real_open, refused = os.open, []

        def refusing_open(path, flags, *args, **kwargs):
            if path == entry.name and not refused:
                refused.append(path)
                raise PermissionError(errno.EACCES, "Permission denied", path)
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", refusing_open)
    assert_rebuilt(kernel, entry, good)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_an_entry_owned_by_another_user_is_rebuilt(directory):
    kernel = sigmoid("foreign")
    entry, good = cached(directory, kernel)
    os.chown(entry, 65534, 65534)
    assert_rebuilt(kernel, entry, good)
    assert entry.stat().st_uid == 0


def test_a_fifo_at_the_entry_path_does_not_block(tmp_path):
    # in a child process with a timeout: a blocking open would hang it, not the test run
    script = textwrap.dedent("""
        import os, sys
        import numpy as np
        from codegen.jit import compile_kernel
        from tests.codegen.test_cache import sigmoid, X, SIGMOID
        directory = sys.argv[1]
        kernel = sigmoid("fifo")
        compile_kernel(kernel)
        (name,) = [n for n in os.listdir(directory) if n.endswith(".kernel")]
        good = open(os.path.join(directory, name), "rb").read()
        os.unlink(os.path.join(directory, name))
        os.mkfifo(os.path.join(directory, name))
        rebuilt = compile_kernel(kernel)
        assert not rebuilt.from_cache
        np.testing.assert_allclose(rebuilt(X), SIGMOID, rtol=2e-7)
        assert open(os.path.join(directory, name), "rb").read() == good
        print("ok")
    """)
    env = {**os.environ, "GRAPHNN_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "codegen")],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


@pytest.mark.parametrize("problem", ["group-writable", "world-writable", "another owner"])
def test_an_unsafe_cache_directory_is_refused(directory, problem):
    if problem == "another owner" and os.geteuid() != 0:
        pytest.skip("only root can give a directory to another user")
    kernel = sigmoid(f"unsafe_{problem.replace(' ', '_').replace('-', '_')}")
    entry, good = cached(directory, kernel)
    if problem == "another owner":
        os.chown(directory, 65534, 65534)
    else:
        directory.chmod(0o770 if problem == "group-writable" else 0o707)
    with pytest.warns(cache.CacheWarning, match="not using the compile cache"):
        compiled = compile_kernel(kernel)
    assert not compiled.from_cache              # the good entry there is not read either
    np.testing.assert_allclose(compiled(X), SIGMOID, rtol=2e-7)
    assert sorted(p.name for p in directory.iterdir()) == [entry.name]   # nor written


def test_a_symlinked_cache_directory_of_ours_is_used(tmp_path, monkeypatch):
    (tmp_path / "real" / "codegen").mkdir(parents=True, mode=0o700)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.setenv("GRAPHNN_CACHE_DIR", str(tmp_path / "link"))
    kernel = sigmoid("linked_directory")
    assert not compile_kernel(kernel).from_cache
    assert compile_kernel(kernel).from_cache
    assert len(list((tmp_path / "real" / "codegen").glob("*.kernel"))) == 1


def test_a_new_cache_directory_is_private(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHNN_CACHE_DIR", str(tmp_path / "new"))
    old = os.umask(0o002)                       # a umask that would make it group-writable
    try:
        compile_kernel(sigmoid("private"))
    finally:
        os.umask(old)
    assert (tmp_path / "new" / "codegen").stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in (tmp_path / "new" / "codegen").iterdir())


def test_concurrent_writers_and_readers_never_see_a_partial_entry(directory):
    key = "ab" * 32
    payloads = [bytes([n]) * (50_000 + 1000 * n) for n in range(4)]
    seen: list[bytes | None] = []

    def work(n: int) -> None:
        for repeat in range(60):
            if n < 4:
                cache.store("kernel", key, payloads[(n + repeat) % 4])
            else:
                seen.append(cache.load("kernel", key))

    threads = run_in_threads(work, 8, timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert all(value is None or value in payloads for value in seen)
    assert sum(value is not None for value in seen) > 0
    assert cache.load("kernel", key) in payloads
    assert not [p for p in directory.iterdir() if p.name.startswith(".tmp-")]


def test_concurrent_compiles_in_processes_share_one_good_entry(directory):
    script = ("import numpy as np\n"
              "from codegen.jit import compile_kernel\n"
              "from tests.codegen.test_cache import sigmoid, X, SIGMOID\n"
              "for _ in range(5):\n"
              "    np.testing.assert_allclose(compile_kernel(sigmoid('shared'))(X), SIGMOID,\n"
              "                               rtol=2e-7)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = [subprocess.Popen([sys.executable, "-c", script], env=env, cwd=ROOT,
                                 stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for child in children:
        _, errors = child.communicate(timeout=180)
        assert child.returncode == 0, errors
    (entry,) = directory.glob("*.kernel")
    assert compile_kernel(sigmoid("shared")).from_cache
    assert not [p for p in directory.iterdir() if p.name.startswith(".tmp-")]
    assert entry.stat().st_size > cache.HEADER


ANSWER_IR = "define i64 @answer() {\n  ret i64 42\n}\n"


@pytest.mark.parametrize("payload", ["garbage", "a kernel's object"])
def test_a_bad_generated_object_is_rebuilt(directory, payload):
    # generated modules (the runtime, GEMMs, entry points) go through the same checked path
    import ctypes

    def answer() -> int:
        tracker = jit.link_entry("test answer", lambda: ANSWER_IR, "answer", Target.host(),
                                    level="none")
        return ctypes.CFUNCTYPE(ctypes.c_int64)(tracker["answer"])()

    assert answer() == 42
    (entry,) = directory.glob("*.generated")
    good = entry.read_bytes()
    key = entry.name.removesuffix(".generated")
    if payload == "garbage":
        cache.store("generated", key, b"\x7fELF" + bytes(300))
    else:
        kernel_entry, _ = cached(directory, sigmoid("generated_kind"))
        cache.store("generated", key, kernel_entry.read_bytes()[cache.HEADER:])
    assert answer() == 42
    assert entry.read_bytes() == good
