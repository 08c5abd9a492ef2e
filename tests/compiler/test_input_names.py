"""Every Python identifier is an input name: compiled functions take it by position and by
keyword, through the native entry and the Python path alike. Names shaped like the call's
options (`out`, `threads`), like a method's `self`, Python keywords, non-ASCII names and names
that mangle alike in the loop IR."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest

import graphnn as gn
from graphnn.compiler import compile

NAMES = ["out", "threads", "self", "args", "kwargs", "class", "lambda", "None", "True", "é",
         "Σx", "名前", "_", "in0_x", "out0", "u00e9"]


def _graph(name):
    x = gn.input(name, shape=(3,))
    y = gn.sum(gn.sigmoid(x) * x)
    return x, [y, *gn.grad(y, [x])]


@pytest.mark.parametrize("name", NAMES)
def test_every_identifier_is_taken_by_position_and_by_keyword(name):
    x, outputs = _graph(name)
    value = np.array([-1.0, 0.5, 2.0])
    want = gn.evaluate(outputs, {name: value})
    f = compile(outputs)
    for got in (f(value), f(**{name: value}), f.call([value]), f.call({name: value})):
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-12)


@pytest.mark.parametrize("name", ["out", "threads"])
def test_an_input_named_like_an_option_takes_its_keyword_and_call_keeps_the_option(name):
    # the reproducer: `missing input 'out'` / `missing input 'threads'`
    x = gn.input(name, shape=(2,))
    f = compile(x * 2.0)
    np.testing.assert_array_equal(f(**{name: np.ones(2)}), [2.0, 2.0])
    result = np.empty(2)
    got = f.call({name: np.array([1.0, 3.0])}, out=result, threads=1)
    assert got is result
    np.testing.assert_array_equal(result, [2.0, 6.0])


def test_self_is_an_input_like_any_other():
    # the reproducer: `got multiple values for argument 'self'`
    s = gn.input("self", shape=(2,))
    f = compile(s + 1.0)
    np.testing.assert_array_equal(f(self=np.zeros(2)), [1.0, 1.0])


def test_out_keyword_means_the_input_on_the_native_path_too():
    # with an input named out, out= never passes output arrays: f(a, o, out=...) names the
    # input twice, on the native entry as on the Python path, and writes nothing
    a, o = gn.input("a", shape=(3,)), gn.input("out", shape=(3,))
    f = compile([a + o, a * o])
    buffers = [np.zeros(3), np.zeros(3)]
    with pytest.raises(gn.InputError, match="input 'out' is given twice"):
        f(np.ones(3), np.full(3, 2.0), out=buffers)
    assert not buffers[0].any() and not buffers[1].any()
    np.testing.assert_array_equal(f(np.ones(3), out=np.full(3, 2.0))[1], [2.0, 2.0, 2.0])


def test_other_functions_keep_out_and_threads_as_options():
    x = gn.input("x", shape=(2,))
    f = compile(x * 2.0)
    result = np.empty(2)
    assert f(np.ones(2), out=result, threads=1) is result


def test_non_ascii_names_compile_to_mangled_buffer_names():
    # the reproducer: `buffer name 'in0_é' is not a unique identifier`
    e = gn.input("é", shape=(2,))
    f = compile(e * 3.0)
    np.testing.assert_array_equal(f(é=np.ones(2)), [3.0, 3.0])
    assert "in0_u00e9" in f.loop_ir and f.loop_ir.isascii()


def test_names_that_mangle_alike_stay_apart():
    # "é" mangles to u00e9, which is also a name of its own: the buffers are numbered
    e, u = gn.input("é", shape=(2,)), gn.input("u00e9", shape=(2,))
    f = compile(e - u)
    np.testing.assert_array_equal(f(é=np.full(2, 5.0), u00e9=np.ones(2)), [4.0, 4.0])
    np.testing.assert_array_equal(f(u00e9=np.full(2, 5.0), é=np.ones(2)), [-4.0, -4.0])


def test_names_are_the_identifiers_python_sees():
    # Python reads the identifier ℌ in source as H, and é written as e + combining accent as
    # the single character é (NFKC): the input, a feed key and a keyword all mean one input
    h = gn.input("ℌ", shape=(2,))
    assert h.name == "H"
    f = compile(h * 2.0)
    np.testing.assert_array_equal(f(ℌ=np.ones(2)), [2.0, 2.0])
    np.testing.assert_array_equal(f(**{"ℌ": np.ones(2)}), [2.0, 2.0])
    np.testing.assert_array_equal(gn.evaluate(h * 2.0, {"ℌ": np.ones(2)}), [2.0, 2.0])
    decomposed = unicodedata.normalize("NFD", "é")
    assert decomposed != "é"
    assert gn.input(decomposed, shape=(2,)) is gn.input("é", shape=(2,))


def test_the_compiled_name_may_be_any_identifier_and_nothing_else():
    x = gn.input("x", shape=(2,))
    np.testing.assert_array_equal(compile(x * 2.0, name="modèle")(np.ones(2)), [2.0, 2.0])
    with pytest.raises(gn.OpError, match="name must be a Python identifier.*'my model'"):
        compile(x * 2.0, name="my model")


def test_a_misspelt_keyword_gets_a_suggestion():
    # the reproducer: a keyword typo in a compiled call had no did-you-mean, unlike evaluate
    weights = gn.input("weights", shape=(2,))
    f = compile(weights * 2.0)
    with pytest.raises(gn.InputError, match=r"no input 'wieghts' .*did you mean 'weights'\?"):
        f(wieghts=np.ones(2))
    with pytest.raises(gn.InputError, match=r"no input 'thread' .*did you mean 'threads'\?"):
        f(np.ones(2), thread=1)
