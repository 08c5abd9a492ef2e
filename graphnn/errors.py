"""Error types of graphnn, and the lookup of the user's source line that errors quote.

Every error a user can trigger names the op or input involved, the shapes or dtypes that did
not fit, and (for graph construction) the line of the user's own code that built the node, not a
frame inside graphnn.
"""

from __future__ import annotations

import difflib
import linecache
import os
import reprlib
import sys
from collections.abc import Iterable

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class GraphnnError(Exception):
    """Base class of every error graphnn raises on purpose."""


class ShapeError(GraphnnError, ValueError):
    """An op was given operands whose shapes it cannot combine, or bad shape attributes."""


class IndexingError(ShapeError, IndexError):
    """An index out of range for its axis (naming the axis and its size), too many indices, or
    an index NumPy's basic indexing does not have (boolean masks, lists and arrays)."""


class DTypeError(GraphnnError, TypeError):
    """Operands of different dtypes met (graphnn never upcasts silently), or a bad dtype."""


class InputError(GraphnnError, ValueError):
    """A value fed for an input is missing, unknown, or of the wrong shape or dtype."""


class GradError(GraphnnError, ValueError):
    """`grad` was asked for something it cannot differentiate (non-scalar output, non-node)."""


class OpError(GraphnnError, ValueError):
    """An op was called wrongly: unknown name, wrong number of inputs, unknown attribute."""


class SymbolicLimitError(GraphnnError, ValueError):
    """A graph is too large to hand to SymPy within the configured bounds."""


class LoweringError(GraphnnError, ValueError):
    """A graph cannot be lowered to native code: the rules of an op registered outside graphnn
    do not build loop IR."""


class ExportError(GraphnnError, ValueError):
    """A compiled function cannot be exported as asked (path, name, cpu, batch, linker)."""


def user_frame() -> tuple[str, int, str] | None:
    """The innermost stack frame outside the graphnn package: (file, line number, source line).

    Errors quote it so a user sees the line that built the bad node, however deep inside
    graphnn (operator overloads, composite ops, gradient rules) the check happened.
    """
    frame = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_PACKAGE_DIR + os.sep):
            line = linecache.getline(filename, frame.f_lineno).strip()
            return frame.f_code.co_filename, frame.f_lineno, line
        frame = frame.f_back
    return None


def where() -> str:
    """The user's source location as a message suffix, or '' when there is none."""
    found = user_frame()
    if found is None:
        return ""
    filename, lineno, line = found
    text = f"\n  at {filename}, line {lineno}"
    return text + (f": {line}" if line else "")


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """A message suffix suggesting the choice closest to a misspelt `word`, or ''.

    >>> did_you_mean("rleu", ["relu", "tanh"])
    "; did you mean 'relu'?"
    """
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def short_repr(value: object) -> str:
    """`repr(value)` shortened for a message: a long list is elided, and a huge int (whose repr
    Python may refuse to make) is described by its size.

    >>> short_repr(10**400), short_repr(list(range(100)))
    ('an int of 1329 bits', '[0, 1, 2, 3, 4, 5, ...]')
    """
    if isinstance(value, int) and value.bit_length() > 64:
        return f"an int of {value.bit_length()} bits"
    try:
        return reprlib.repr(value)
    except ValueError:            # an int too long to print inside a container
        return f"a {type(value).__name__}"
