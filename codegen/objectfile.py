"""Structural check of an ELF object file before LLVM's runtime linker sees it.

Input: object bytes (from the disk cache), the symbols the caller will look up in it, the
undefined symbols it may import and the cache key it was made for. Output: nothing, or
``ObjectFileError`` naming the first fault.

Why: the runtime linker (RuntimeDyld, under ORC) trusts its input, and llvmlite's LLVM is built
with assertions on. An unknown relocation type aborts the whole process (``LLVM ERROR:
Relocation type not implemented yet!``), so does a 32-bit relocation whose value overflows; a
relocation offset past its section makes it write outside the memory it allocated; a section
header pointing past the end of the file makes it read outside the buffer. The cache's checksum
(codegen.cache) catches accidental damage; this check makes sure that an entry which passes it
anyway (written by a broken build, or edited and its checksum recomputed) is refused, evicted
and rebuilt instead of taking the process down. It accepts only the shape of object LLVM emits
for our modules: a 64-bit little-endian relocatable file for this machine; known section types
and flags, no unwind tables; every section, name and symbol inside the file and its section,
functions not overlapping; only the 64-bit relocation types of the large code model, each at
the immediate of a movabs, none overlapping another, each of the kind LLVM uses for its target
and pointing where LLVM points it (a function's start, an entry of a constant pool, inside a
data section, a GOT slot, the GOT base's lea); the exports defined as global functions in code;
every undefined symbol one the caller provides; the cache key in ``KEY_SYMBOL``.

What no structural check can see: the bytes inside sections (machine code and constants have
no redundancy: any byte string decodes as instructions) and which of several valid targets a
reference names (another entry of the same constant pool, another movabs). An entry edited
there, with its checksum recomputed, links and runs wrong. Only someone who can write the
user's own cache directory can make one, that is someone who runs code as the user already
(see the threat model in codegen.cache); tests/codegen/test_objectfile.py flips every byte of
an object's headers and tables and checks that none takes the process down.
"""

from __future__ import annotations

import platform
import struct
from collections.abc import Collection
from dataclasses import dataclass

_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")
_SECTION = struct.Struct("<IIQQQQIIQQ")
_SYMBOL = struct.Struct("<IBBHQQ")
_RELOCATION = struct.Struct("<QQq")
_IDENT = b"\x7fELF\x02\x01\x01"            # ELF, 64-bit, little endian, version 1
ET_REL = 1
SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_NOTE, SHT_NOBITS = 1, 2, 3, 4, 7, 8
_SECTION_TYPES = {SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_NOTE, SHT_NOBITS}
SHF_ALLOC, SHF_EXECINSTR, SHF_MERGE = 0x2, 0x4, 0x10
# write, alloc, exec, merge, strings, info link, x86-64 large; never TLS, groups or compressed
_SECTION_FLAGS = 0x1 | 0x2 | 0x4 | 0x10 | 0x20 | 0x40 | 0x10000000
SHN_UNDEF, SHN_ABS = 0, 0xFFF1
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_OBJECT, STT_FUNC, STT_SECTION = 1, 2, 3
_SYMBOL_TYPES = {0, STT_OBJECT, STT_FUNC, STT_SECTION, 4}   # and none, file
MAX_SECTIONS = 4096
MAX_BSS = 1 << 30
MAX_ALIGNMENT = 4096

# The relocation types accepted (x86-64 only: elsewhere codegen.jit caches no object code).
# Our objects use the large code model (codegen.jit's target machine), where every reference
# is 64 bits wide and sits in the immediate of a movabs. A 32-bit type (PC32, PLT32, GOTPCREL,
# 32, 32S, ...) can overflow, and this LLVM's runtime linker asserts on an overflow, which
# aborts the process (measured: a GOTOFF64 changed to R_X86_64_32 aborts in
# RuntimeDyldELF::resolveX86_64Relocation).
MACHINES = {"x86_64": 62, "amd64": 62}
R_X86_64_64, R_X86_64_GOTOFF64, R_X86_64_GOT64, R_X86_64_GOTPC64 = 1, 25, 27, 29
RELOCATION_TYPES = {
    R_X86_64_64: "an absolute address",
    R_X86_64_GOTOFF64: "an offset from the GOT (constants, local functions)",
    R_X86_64_GOT64: "a GOT slot (imported functions)",
    R_X86_64_GOTPC64: "the GOT's address, from the lea -7(%rip) before the movabs",
}
_FIELD = 8
GOT_SYMBOL = "_GLOBAL_OFFSET_TABLE_"
KEY_SYMBOL = "graphnn_cache_key"     # a constant holding the cache key the object was made for


class ObjectFileError(ValueError):
    """An object file is not one this process may hand to the runtime linker."""


def supported(machine: str | None = None) -> bool:
    """Whether objects for ``machine`` (default: this one) can be checked; where they cannot,
    codegen.jit caches no object code at all."""
    return (machine or platform.machine()).lower() in MACHINES


@dataclass(frozen=True)
class _Section:
    name: str
    type: int
    flags: int
    offset: int
    size: int
    link: int
    info: int
    entsize: int


@dataclass(frozen=True)
class _Symbol:
    name: str
    bind: int
    type: int
    section: int
    value: int
    size: int


def check(data: bytes, exports: Collection[str], imports: Collection[str],
          key: str | None = None, machine: str | None = None) -> None:
    """Raise ``ObjectFileError`` unless ``data`` is an object file of the accepted shape that
    defines every name in ``exports``, needs no undefined symbol outside ``imports`` and, given
    a cache ``key``, holds that key in ``KEY_SYMBOL`` (codegen.jit writes it in)."""
    machine = (machine or platform.machine()).lower()
    if machine not in MACHINES:
        raise ObjectFileError(f"objects for machine {machine!r} are not checked")
    try:
        sections = _sections(data, MACHINES[machine])
        symbols = _symbols(data, sections)
        for index, section in enumerate(sections):
            if section.type == SHT_RELA:
                _check_relocations(data, sections, index, symbols)
        defined = _check_linkage(symbols, sections, exports, imports)
        if key is not None:
            _check_key(data, sections, defined.get(KEY_SYMBOL), key)
    except (IndexError, struct.error) as error:   # a field this check did not bound first
        raise ObjectFileError(f"malformed object file ({error})") from error


def _fail(message: str) -> None:
    raise ObjectFileError(message)


def _sections(data: bytes, machine: int) -> list[_Section]:
    if len(data) < _HEADER.size or not data.startswith(_IDENT):
        _fail("not a 64-bit little-endian ELF file")
    (_, kind, found_machine, version, entry, program_headers, offset, flags, header_size,
     _, program_count, section_size, count, names) = _HEADER.unpack_from(data)
    if (kind, found_machine, version, entry, flags) != (ET_REL, machine, 1, 0, 0):
        _fail(f"not a relocatable object for machine {machine} (type {kind}, machine "
              f"{found_machine}, version {version}, entry {entry}, flags {flags:#x})")
    if (header_size, section_size, program_headers, program_count) != (_HEADER.size,
                                                                        _SECTION.size, 0, 0):
        _fail("unexpected header sizes or program headers")
    if not 1 <= count <= MAX_SECTIONS or not _inside(data, offset, count * _SECTION.size):
        _fail(f"section table ({count} entries at {offset}) outside the file")
    raw = [_SECTION.unpack_from(data, offset + n * _SECTION.size) for n in range(count)]
    if any(raw[0]):
        _fail("section 0 is not empty")
    if not 0 < names < count or raw[names][1] != SHT_STRTAB or \
            not _inside(data, raw[names][4], raw[names][5]):
        _fail(f"section names index {names} is not a string table inside the file")
    name_table = (raw[names][4], raw[names][4] + raw[names][5])
    sections = [_Section("", 0, 0, 0, 0, 0, 0, 0)]
    for n, (name, kind, flags, address, offset, size, link, info, align, entsize) in \
            enumerate(raw[1:], 1):
        title = _string(data, name_table, name, f"section {n} name")
        where = f"section {n} ({title})"
        if kind not in _SECTION_TYPES or flags & ~_SECTION_FLAGS or address:
            _fail(f"{where}: unexpected type {kind:#x}, flags {flags:#x} or address")
        if align & (align - 1) or align > MAX_ALIGNMENT:
            _fail(f"{where}: alignment {align}")
        if kind == SHT_NOBITS:
            if size > MAX_BSS:
                _fail(f"{where}: {size} bytes of zeros")
        elif not _inside(data, offset, size):
            _fail(f"{where}: {size} bytes at {offset} outside the file")
        sections.append(_Section(title, kind, flags, offset, size, link, info, entsize))
    return sections


def _inside(data: bytes, offset: int, size: int) -> bool:
    return offset + size <= len(data)      # both are unsigned fields


def _string(data: bytes, table: tuple[int, int], offset: int, what: str) -> str:
    start, end = table
    stop = data.find(b"\0", start + offset, end) if offset < end - start else -1
    if stop < 0:
        _fail(f"{what}: offset {offset} outside its string table")
    try:
        return data[start + offset:stop].decode("ascii")
    except UnicodeDecodeError:
        _fail(f"{what}: not ASCII")
    raise AssertionError("unreachable")


def _table(sections: list[_Section], index: int, entry: int, what: str) -> int:
    """The number of entries of a symbol or relocation table, checking its entry size."""
    section = sections[index]
    if section.entsize != entry or section.size % entry:
        _fail(f"{what} {section.name}: entry size {section.entsize}, size {section.size}")
    return section.size // entry


def _symbols(data: bytes, sections: list[_Section]) -> list[_Symbol]:
    tables = [n for n, s in enumerate(sections) if s.type == SHT_SYMTAB]
    if len(tables) != 1:
        _fail(f"{len(tables)} symbol tables")
    table = sections[tables[0]]
    count = _table(sections, tables[0], _SYMBOL.size, "symbol table")
    if not 0 < table.link < len(sections) or sections[table.link].type != SHT_STRTAB or \
            not 0 < table.info <= count:
        _fail("symbol table: bad string table link or first global index")
    strings = sections[table.link]
    names = (strings.offset, strings.offset + strings.size)
    if _SYMBOL.unpack_from(data, table.offset) != (0, 0, 0, 0, 0, 0):
        _fail("symbol 0 is not empty")
    symbols = [_Symbol("", STB_LOCAL, 0, SHN_UNDEF, 0, 0)]
    for n in range(1, count):
        name, info, other, shndx, value, size = _SYMBOL.unpack_from(
            data, table.offset + n * _SYMBOL.size)
        symbol = _Symbol(_string(data, names, name, f"symbol {n} name"), info >> 4, info & 15,
                         shndx, value, size)
        _check_symbol(symbol, other, n < table.info, sections, f"symbol {n} ({symbol.name})")
        symbols.append(symbol)
    _check_functions(symbols)
    return symbols


def _check_symbol(symbol: _Symbol, other: int, local: bool, sections: list[_Section],
                  where: str) -> None:
    if symbol.bind not in (STB_LOCAL, STB_GLOBAL, STB_WEAK) or \
            symbol.type not in _SYMBOL_TYPES or other & ~3 or (symbol.bind == STB_LOCAL) != local:
        _fail(f"{where}: binding {symbol.bind}, type {symbol.type}, other {other}")
    if symbol.section == SHN_UNDEF:
        if local or not symbol.name or symbol.type not in (0, STT_FUNC):
            _fail(f"{where}: an undefined local, nameless or data symbol")
    elif symbol.section != SHN_ABS:
        if symbol.section >= len(sections) or not sections[symbol.section].flags & SHF_ALLOC:
            _fail(f"{where}: in section {symbol.section}, not a loaded section")
        if symbol.value + symbol.size > sections[symbol.section].size or \
                (symbol.type == STT_SECTION and symbol.value) or \
                (symbol.type == STT_FUNC and not symbol.size):
            _fail(f"{where}: {symbol.size} bytes at {symbol.value} do not fit its section")


def _check_functions(symbols: list[_Symbol]) -> None:
    """Functions do not overlap: an entry point moved into another function is refused."""
    ranges = sorted((s.section, s.value, s.value + s.size, s.name) for s in symbols
                    if s.type == STT_FUNC and s.section not in (SHN_UNDEF, SHN_ABS))
    for before, after in zip(ranges, ranges[1:]):
        if before[0] == after[0] and after[1] < before[2]:
            _fail(f"functions {before[3]} and {after[3]} overlap")


def _check_relocations(data: bytes, sections: list[_Section], index: int,
                       symbols: list[_Symbol]) -> None:
    section = sections[index]
    count = _table(sections, index, _RELOCATION.size, "relocation table")
    if not 0 < section.link < len(sections) or sections[section.link].type != SHT_SYMTAB or \
            not 0 < section.info < len(sections):
        _fail(f"relocation table {section.name}: bad symbol table or target section")
    target = sections[section.info]
    if not target.flags & SHF_ALLOC or target.type == SHT_NOBITS:
        _fail(f"relocation table {section.name}: relocates {target.name}, not loaded code/data")
    code = data[target.offset:target.offset + target.size]
    end = 0
    entries = sorted(_RELOCATION.unpack_from(data, section.offset + n * _RELOCATION.size)
                     for n in range(count))
    for offset, info, addend in entries:
        kind, number = info & 0xFFFFFFFF, info >> 32
        where = f"relocation at {offset} of {target.name}"
        if kind not in RELOCATION_TYPES or not 0 < number < len(symbols):
            _fail(f"{where}: type {kind} or symbol {number} is not accepted")
        if offset < end or offset + _FIELD > target.size:
            _fail(f"{where}: overlaps another or passes the section's end")
        end = offset + _FIELD
        if target.flags & SHF_EXECINSTR:
            _check_movabs(code, offset, kind, where)
        elif kind != R_X86_64_64 or offset % _FIELD:
            _fail(f"{where}: type {kind} in data, or misaligned")
        _check_addend(code, sections, symbols, symbols[number], kind, offset, addend, where)


def _check_movabs(code: bytes, offset: int, kind: int, where: str) -> None:
    """A reference in code is the immediate of a movabs (REX.W, then B8+r) and, code being
    position-independent, never an absolute address."""
    if kind == R_X86_64_64 or offset < 2 or \
            not (0x48 <= code[offset - 2] <= 0x4F and 0xB8 <= code[offset - 1] <= 0xBF):
        _fail(f"{where}: not the relative immediate of a movabs")


def _check_addend(code: bytes, sections: list[_Section], symbols: list[_Symbol],
                  symbol: _Symbol, kind: int, offset: int, addend: int, where: str) -> None:
    """Each reference is of the kind LLVM makes for its symbol and points where LLVM points
    it: the GOT base back at its lea; an outside symbol through its GOT slot; code at the
    start of a function; data inside its section (at an entry of a constant pool)."""
    if kind == R_X86_64_GOTPC64:
        lea = offset - addend
        if symbol.name != GOT_SYMBOL or symbol.section != SHN_UNDEF or lea < 0 or \
                not _is_lea_of_itself(code[lea:lea + 7]):
            _fail(f"{where}: the GOT base is not computed from a lea -7(%rip)")
        return
    if symbol.section in (SHN_UNDEF, SHN_ABS) or kind == R_X86_64_GOT64:
        if addend or symbol.name == GOT_SYMBOL or (kind == R_X86_64_GOTOFF64) or \
                (symbol.section != SHN_UNDEF and symbol.bind == STB_LOCAL):
            _fail(f"{where}: {symbol.name or 'a local symbol'} + {addend} through the GOT")
        return
    place = symbol.value + addend
    home = sections[symbol.section]
    if home.flags & SHF_EXECINSTR:
        if not any(s.type == STT_FUNC and s.section == symbol.section and s.value == place
                   for s in symbols):
            _fail(f"{where}: {home.name} + {place} is not the start of a function")
        return
    step = home.entsize if home.flags & SHF_MERGE and home.entsize else 1
    if not 0 <= place <= home.size - step or place % step:
        _fail(f"{where}: {symbol.name or home.name} + {addend} is not inside {home.name}")


def _is_lea_of_itself(instruction: bytes) -> bool:
    """lea -7(%rip), %reg (REX.W 8D /r, mod 00 r/m 101, disp32 -7): its own address."""
    return len(instruction) == 7 and instruction[0] in (0x48, 0x4C) and \
        instruction[1] == 0x8D and instruction[2] & 0xC7 == 0x05 and \
        instruction[3:] == b"\xf9\xff\xff\xff"


def _check_linkage(symbols: list[_Symbol], sections: list[_Section], exports: Collection[str],
                   imports: Collection[str]) -> dict[str, _Symbol]:
    """The global symbols, after checking the exports and imports."""
    defined: dict[str, _Symbol] = {}
    for symbol in symbols[1:]:
        if symbol.bind == STB_LOCAL:
            continue
        if symbol.section == SHN_UNDEF:
            if symbol.name not in imports:
                _fail(f"undefined symbol {symbol.name} is not one this process provides")
        elif symbol.name in defined:
            _fail(f"symbol {symbol.name} defined twice")
        else:
            defined[symbol.name] = symbol
    for name in exports:
        symbol = defined.get(name)
        if symbol is None or symbol.type != STT_FUNC or symbol.bind != STB_GLOBAL or \
                symbol.section == SHN_ABS or not sections[symbol.section].flags & SHF_EXECINSTR:
            _fail(f"{name} is not defined as a global function in code")
    return defined


def _check_key(data: bytes, sections: list[_Section], symbol: _Symbol | None, key: str) -> None:
    """The object was made for this cache entry: ``KEY_SYMBOL`` holds ``key``'s 64 digits."""
    if symbol is None or symbol.type != STT_OBJECT or symbol.size != len(key) or \
            symbol.section == SHN_ABS or sections[symbol.section].type != SHT_PROGBITS:
        _fail(f"no {KEY_SYMBOL} constant of {len(key)} bytes")
    start = sections[symbol.section].offset + symbol.value
    if data[start:start + symbol.size] != key.encode():
        _fail(f"made for another cache entry than {key}")
