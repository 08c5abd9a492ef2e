"""One PDF from several: the pages of an animation's frames, for slides, without a PDF library.

Stage: rendering. Input: PDF files as Graphviz (cairo) writes them: one page each, objects
listed in a classic cross-reference table. Output: one PDF with all their pages in order.

Each file's objects are copied with their numbers shifted past the previous files'; only the
dictionaries are rewritten (references `N 0 R`), never stream data, which is found through the
cross-reference table rather than by searching the bytes. Every page is attached to one new
page tree under a new catalog.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from graphnn.render.drawing import RenderError

_REFERENCE = re.compile(rb"(\d+) 0 R\b")
_PAGE = re.compile(rb"/Type\s*/Page\b(?!s)")
_PARENT = re.compile(rb"/Parent\s+\d+ 0 R")
_MEDIA_BOX = re.compile(rb"/MediaBox\s*\[\s*" + rb"\s+".join([rb"([-\d.]+)"] * 4))


def _objects(data: bytes) -> dict[int, bytes]:
    """Object number -> its text between `N 0 obj` and `endobj`, from the xref table."""
    found = re.search(rb"startxref\s+(\d+)", data[-1024:])
    if not data.startswith(b"%PDF") or found is None:
        raise RenderError("Graphviz wrote a PDF without a cross-reference table")
    table = data[int(found.group(1)):]
    header = re.match(rb"xref\s+0\s+(\d+)\s+", table)
    if header is None:
        raise RenderError("Graphviz wrote a PDF whose cross-reference table is not plain")
    count, entries = int(header.group(1)), table[header.end():]
    offsets = {}
    for number, line in enumerate(re.findall(rb"(\d{10}) \d{5} ([nf])", entries)[:count]):
        if line[1] == b"n":
            offsets[number] = int(line[0])
    ends = sorted(offsets.values()) + [int(found.group(1))]
    objects = {}
    for number, start in offsets.items():
        chunk = data[start:ends[ends.index(start) + 1]]
        body = re.match(rb"\d+ 0 obj\s*(.*)endobj", chunk, re.S)
        if body is None:
            raise RenderError(f"object {number} of Graphviz's PDF cannot be read")
        objects[number] = body.group(1)
    return objects


def _renumbered(body: bytes, shift: int) -> bytes:
    """References shifted by `shift`, in the dictionary part only (not in stream data)."""
    head, stream, tail = body.partition(b"stream")
    head = _REFERENCE.sub(lambda m: b"%d 0 R" % (int(m.group(1)) + shift), head)
    return head + stream + tail


def page_size(data: bytes) -> tuple[float, float]:
    """Width and height in points of the first page of a PDF (its MediaBox)."""
    for body in _objects(data).values():
        head = body.partition(b"stream")[0]
        box = _MEDIA_BOX.search(head)
        if _PAGE.search(head) and box:
            left, bottom, right, top = (float(v) for v in box.groups())
            return right - left, top - bottom
    raise RenderError("Graphviz wrote a PDF without a page size")


def merge_pdfs(files: Sequence[bytes]) -> bytes:
    """The pages of `files`, in order, as one PDF."""
    if not files:
        raise RenderError("no pages to write")
    merged: dict[int, bytes] = {}
    pages: list[int] = []
    shift = 0
    for data in files:
        objects = _objects(data)
        for number, body in sorted(objects.items()):
            merged[number + shift] = _renumbered(body, shift)
            if _PAGE.search(body.partition(b"stream")[0]):
                pages.append(number + shift)
        shift += max(objects) + 1
    tree, catalog = shift, shift + 1
    for number in pages:
        merged[number] = _PARENT.sub(b"/Parent %d 0 R" % tree, merged[number], count=1)
    kids = b" ".join(b"%d 0 R" % n for n in pages)
    merged[tree] = b"<< /Type /Pages /Kids [ %s ] /Count %d >>\n" % (kids, len(pages))
    merged[catalog] = b"<< /Type /Catalog /Pages %d 0 R >>\n" % tree
    out = bytearray(b"%PDF-1.5\n%\xb5\xed\xae\xfb\n")
    offsets = {}
    for number in sorted(merged):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%sendobj\n" % (number, merged[number])
    start = len(out)
    size = catalog + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += (b"%010d 00000 n \n" % offsets[number] if number in offsets
                else b"0000000000 65535 f \n")
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, catalog,
                                                                             start)
    return bytes(out)
