"""The symbol table of an ELF object file or shared library: which symbols it defines for other
code and which it needs from elsewhere.

Input: the bytes of a 64-bit little-endian ELF file (what LLVM emits for x86-64 and AArch64
Linux). Output: ``Symbols``. Read from ``.symtab`` (an object file) or ``.dynsym`` (a shared
library's dynamic symbols, what a loader sees), so the exporter can tell which libraries a
library needs without running ``nm``.

>>> Symbols.read(b"not elf")
Traceback (most recent call last):
...
ValueError: not a 64-bit little-endian ELF file
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_SHT_SYMTAB, _SHT_DYNSYM = 2, 11
_STB_LOCAL = 0
_SHN_UNDEF = 0
_STT_FILE, _STT_SECTION = 4, 3


@dataclass(frozen=True)
class Symbols:
    defined: frozenset[str]        # global or weak symbols the file defines
    undefined: frozenset[str]      # symbols it references and does not define

    @classmethod
    def read(cls, data: bytes, dynamic: bool = False) -> Symbols:
        """The symbols of `.symtab`, or with `dynamic` of `.dynsym`."""
        if data[:6] != b"\x7fELF\x02\x01":
            raise ValueError("not a 64-bit little-endian ELF file")
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
        sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + k * shentsize)
                    for k in range(shnum)]
        wanted = _SHT_DYNSYM if dynamic else _SHT_SYMTAB
        defined, undefined = set(), set()
        for _, kind, _, _, offset, size, link, _, _, entsize in sections:
            if kind != wanted:
                continue
            strings = sections[link][4]
            for start in range(offset + entsize, offset + size, entsize):   # entry 0 is null
                name_at, info, _, shndx = struct.unpack_from("<IBBH", data, start)
                name = data[strings + name_at:data.index(b"\0", strings + name_at)].decode()
                if not name or (info & 0xF) in (_STT_FILE, _STT_SECTION):
                    continue
                if shndx == _SHN_UNDEF:
                    undefined.add(name.split("@")[0])
                elif info >> 4 != _STB_LOCAL:
                    defined.add(name)
        return cls(frozenset(defined), frozenset(undefined))
