"""The notation of the drawings' derivative labels, read into SymPy.

Stage: the SymPy bridge, for the renderer's labels. Input: a label (`out·(1 - out)`,
`1 if x > 0 else alpha`, `[x > y]`, `g @ bᵀ`, `2(pred - target)/n`) and what its names and
functions stand for. Output: its value as a numpy object array of SymPy expressions (0-d for
a scalar), combined with numpy's broadcasting, and the names it used.

The grammar, loosest binding first:

    conditional := sum ["if" comparison "else" conditional]        1 if x > 0 else alpha
    comparison  := sum ("<" | ">" | "≤" | "≥") sum
    sum         := product (("+" | "-") product)*
    product     := factor (("·" | "/" | "@") factor | factor)*     2x, prob(1 - prob) multiply
    factor      := "-" factor | postfix
    postfix     := atom ("²" | "ᵀ" | "^" factor)*
    atom        := number | name | function "(" conditional ("," conditional)* ")"
                 | "(" conditional ")" | "[" comparison "]" | "√" atom

`[c]` is 1 where c holds, else 0 (Iverson's bracket). Vectors are rows, as in `x @ W`: the
transpose of a vector is a column, and a column times a row is their outer product.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import partial

import numpy as np
import sympy

from graphnn.errors import GraphnnError


class LabelError(GraphnnError, ValueError):
    """A derivative label that is not a formula the notation reads."""


_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?(?:e[-+]?\d+)?)|([A-Za-z_][A-Za-z_0-9]*)|(.))")
_STARTS_ATOM = {"(", "[", "√"}
_KEYWORDS = {"if", "else"}


def _tokens(text: str) -> list[tuple[str, str]]:
    """(kind, text) pairs: kind is "number", "name" or the symbol itself."""
    found = []
    for number, name, symbol in _TOKEN.findall(text.strip()):
        found.append(("number", number) if number else ("name", name) if name else
                     (symbol, symbol))
    return found


def each(rule: Callable, *arrays: np.ndarray) -> np.ndarray:
    """rule applied to every element (numpy broadcasting), as an object array."""
    return np.asarray(np.frompyfunc(rule, len(arrays), 1)(*arrays), dtype=object)


def _as_row(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # vectors are rows, as in x @ W: a column aᵀ times a row g is their outer product
    if a.ndim == 2 and a.shape[1] == 1 and b.ndim == 1:
        return a, b[np.newaxis, :]
    return a, b


def _transposed(a: np.ndarray) -> np.ndarray:
    return a[:, np.newaxis] if a.ndim == 1 else a.T      # a vector's transpose is a column


_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "+": lambda a, b: each(sympy.Add, a, b),
    "-": lambda a, b: each(lambda x, y: x - y, a, b),
    "·": lambda a, b: each(sympy.Mul, a, b),
    "/": lambda a, b: each(lambda x, y: x / y, a, b),
    "@": lambda a, b: np.asarray(np.matmul(*_as_row(a, b)), dtype=object),
    "<": lambda a, b: each(sympy.Lt, a, b),
    ">": lambda a, b: each(sympy.Gt, a, b),
    "≤": lambda a, b: each(sympy.Le, a, b),
    "≥": lambda a, b: each(sympy.Ge, a, b),
}


class _Reader:
    """One label's formula, read by recursive descent (the grammar above)."""

    def __init__(self, text: str, names: Mapping[str, np.ndarray],
                 functions: Mapping[str, Callable[..., np.ndarray]]):
        self.text, self.names, self.functions = text, names, functions
        self.tokens, self.at = _tokens(text), 0
        self.used: set[str] = set()

    def fail(self, why: str) -> LabelError:
        return LabelError(f"cannot read the label {self.text!r}: {why}")

    def peek(self) -> str:
        return self.tokens[self.at][0] if self.at < len(self.tokens) else ""

    def take(self, kind: str | None = None) -> str:
        if kind is not None and self.peek() != kind:
            raise self.fail(f"expected {kind!r} at token {self.at + 1}")
        if self.at >= len(self.tokens):
            raise self.fail("it ends too early")
        self.at += 1
        return self.tokens[self.at - 1][1]

    def whole(self) -> np.ndarray:
        value = self.conditional()
        if self.at != len(self.tokens):
            raise self.fail(f"unexpected {self.tokens[self.at][1]!r}")
        return value

    def conditional(self) -> np.ndarray:
        value = self.sum()
        if self.peek() == "name" and self.tokens[self.at][1] == "if":
            self.take()
            condition = self.comparison()
            if self.peek() != "name" or self.take() != "else":
                raise self.fail("'if' without 'else'")
            otherwise = self.conditional()
            return each(lambda a, c, b: sympy.Piecewise((a, c), (b, True)),
                        value, condition, otherwise)
        return value

    def comparison(self) -> np.ndarray:
        left = self.sum()
        if self.peek() not in ("<", ">", "≤", "≥"):
            raise self.fail("expected a comparison < > ≤ or ≥")
        return _BINARY[self.take()](left, self.sum())

    def sum(self) -> np.ndarray:
        value = self.product()
        while self.peek() in ("+", "-"):
            value = _BINARY[self.take()](value, self.product())
        return value

    def _juxtaposed(self) -> bool:
        kind = self.peek()
        return kind in _STARTS_ATOM or kind == "number" or (
            kind == "name" and self.tokens[self.at][1] not in _KEYWORDS)

    def product(self) -> np.ndarray:
        value = self.factor()
        while True:
            if self.peek() in ("·", "/", "@"):
                value = _BINARY[self.take()](value, self.factor())
            elif self._juxtaposed():
                value = _BINARY["·"](value, self.factor())
            else:
                return value

    def factor(self) -> np.ndarray:
        if self.peek() == "-":
            self.take()
            return each(lambda x: -x, self.factor())
        return self.postfix()

    def postfix(self) -> np.ndarray:
        value = self.atom()
        while self.peek() in ("²", "ᵀ", "^"):
            symbol = self.take()
            if symbol == "²":
                value = each(lambda x: x ** 2, value)
            elif symbol == "ᵀ":
                value = _transposed(value)
            else:
                value = each(lambda x, y: x ** y, value, self.factor())
        return value

    def atom(self) -> np.ndarray:
        kind = self.peek()
        if kind == "number":
            return np.asarray(sympy.Rational(self.take()), dtype=object)
        if kind == "(":
            self.take()
            value = self.conditional()
            self.take(")")
            return value
        if kind == "[":
            self.take()
            condition = self.comparison()
            self.take("]")
            return each(lambda c: sympy.Piecewise((1, c), (0, True)), condition)
        if kind == "√":
            self.take()
            return each(sympy.sqrt, self.atom())
        if kind == "name":
            return self.name(self.take())
        raise self.fail(f"unexpected {self.tokens[self.at][1]!r}" if kind else
                        "it ends too early")

    def name(self, word: str) -> np.ndarray:
        # a name followed by "(" calls a function, unless it is a variable: prob(1 - prob)
        if word in self.functions and word not in self.names and self.peek() == "(":
            self.take("(")
            args = [self.conditional()]
            while self.peek() == ",":
                self.take()
                args.append(self.conditional())
            self.take(")")
            return self.functions[word](*args)
        if word not in self.names:
            raise self.fail(f"unknown name {word!r}")
        self.used.add(word)
        return self.names[word]


# functions every label may call, elementwise
FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "log": partial(each, sympy.log), "exp": partial(each, sympy.exp),
    "sign": partial(each, sympy.sign),
}


def read_label(text: str, names: Mapping[str, np.ndarray],
               functions: Mapping[str, Callable[..., np.ndarray]] | None = None
               ) -> tuple[np.ndarray, set[str]]:
    """The label's value as an object array of SymPy expressions, and the names it used.

    >>> x = sympy.Symbol("x", real=True)
    >>> value, used = read_label("1 if x > 0 else 2x²", {"x": np.asarray(x, dtype=object)})
    >>> value[()], used
    (Piecewise((1, x > 0), (2*x**2, True)), {'x'})
    """
    reader = _Reader(text, names, {**FUNCTIONS, **(functions or {})})
    try:
        return reader.whole(), reader.used
    except LabelError:
        raise
    except (ValueError, GraphnnError) as error:
        # numpy's or an op's: shapes that do not broadcast or multiply, a wrong argument count
        # (an op's error goes on to name the calling source line, here graphnn's own: cut it)
        raise reader.fail(str(error).split("\n")[0]) from None
