"""The NumPy reference interpreter: feeds, their errors, and what it returns."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn


@pytest.fixture
def graph():
    x = gn.input("x", shape=(2, 3), dtype="float32")
    w = gn.input("w", shape=(3,), dtype="float32")
    return x, w, gn.sum(x * w)


def test_feed_by_name_or_by_node(graph):
    x, w, y = graph
    xv, wv = np.ones((2, 3), np.float32), np.arange(3, dtype=np.float32)
    assert gn.evaluate(y, {"x": xv, "w": wv}) == gn.evaluate(y, {x: xv, w: wv}) == 6.0


def test_missing_input(graph):
    _, _, y = graph
    with pytest.raises(gn.InputError, match=r"missing a value for input 'w' \(float32, shape "
                                             r"\(3,\)\)"):
        gn.evaluate(y, {"x": np.ones((2, 3), np.float32)})


def test_unknown_name_suggests_the_close_one(graph):
    _, _, y = graph
    with pytest.raises(gn.InputError, match="'ww', which is not an input.*did you mean 'w'"):
        gn.evaluate(y, {"x": np.ones((2, 3), np.float32), "ww": np.ones(3, np.float32)})


def test_wrong_shape(graph):
    _, _, y = graph
    with pytest.raises(gn.InputError, match=r"input 'x' expects a float32 array of shape "
                                             r"\(2, 3\), got shape \(3, 2\)"):
        gn.evaluate(y, {"x": np.ones((3, 2), np.float32), "w": np.ones(3, np.float32)})


def test_wrong_dtype_is_not_cast(graph):
    _, _, y = graph
    with pytest.raises(gn.InputError, match=r"input 'x' expects a float32 array.*got a "
                                             r"float64 array.*astype\('float32'\)"):
        gn.evaluate(y, {"x": np.ones((2, 3)), "w": np.ones(3, np.float32)})


def test_numbers_and_lists_are_converted(graph):
    _, _, y = graph
    assert gn.evaluate(y, {"x": [[1, 1, 1], [1, 1, 1]], "w": [1.0, 2.0, 3.0]}) == 12.0
    s = gn.input("s")
    assert gn.evaluate(s * 2.0, {"s": 3}) == 6.0


def test_bad_values():
    s = gn.input("s")
    with pytest.raises(gn.InputError, match="got a str"):
        gn.evaluate(s, {"s": "three"})
    with pytest.raises(gn.InputError, match="feed keys must be input names"):
        gn.evaluate(s, {3: 1.0})
    with pytest.raises(gn.InputError, match="feed keys must be inputs"):
        gn.evaluate(s, {gn.exp(s): 1.0})


def test_one_feed_serves_several_evaluations_when_the_caller_says_so():
    a, _ = gn.input("a"), gn.input("b")
    feed = {"a": 1.0, "b": 2.0}
    assert gn.evaluate(a * 3.0, feed, allow_extra=True) == 3.0    # b: not an input here
    with pytest.raises(gn.InputError, match="'b', which is not an input here"):
        gn.evaluate(a * 3.0, feed)


def test_a_misspelled_feed_key_is_an_error_even_when_another_graph_declared_that_name():
    # the reproducer of issue 20: "wieght" was accepted because some other graph of the
    # process had an input of that name (and the real input was then reported missing, or,
    # with a default feed, silently not fed)
    weight, other = gn.input("weight"), gn.input("wieght")
    assert gn.evaluate(other * 1.0, {"wieght": 1.0}) == 1.0
    with pytest.raises(gn.InputError, match=r"feed names 'wieght', which is not an input here "
                                            r"\(inputs: 'weight'\); did you mean 'weight'\?"):
        gn.evaluate(weight * 2.0, {"wieght": 3.0})
    with pytest.raises(gn.InputError, match="feed has input 'wieght' f64.*not an input here"):
        gn.evaluate(weight * 2.0, {other: 3.0, "weight": 1.0})


def test_a_graph_is_strict_about_its_inputs():
    a, _ = gn.input("a"), gn.input("b")
    g = gn.Graph([a * 2.0])
    with pytest.raises(gn.InputError, match="'b', which is not an input here"):
        gn.evaluate(g, {"a": 1.0, "b": 2.0})
    assert gn.evaluate(g, {"a": 1.0}) == [2.0]


def test_results_are_fresh_writable_copies():
    c = gn.constant(np.ones(3))
    value = gn.evaluate(c, {})
    value[0] = 5.0
    assert c.value[0] == 1.0
    b = gn.evaluate(gn.broadcast_to(c, (2, 3)))
    b[0, 0] = 7.0
    assert b[1, 0] == 1.0


def test_ieee_semantics_without_warnings():
    x = gn.input("x", shape=(3,))
    with np.errstate(all="raise"):
        values = gn.evaluate([gn.exp(x), gn.log(x), 1.0 / x], {"x": [1000.0, 0.0, -1.0]})
    assert np.isinf(values[0][0]) and values[1][1] == -np.inf and np.isnan(values[1][2])


def test_single_output_gives_one_array_list_gives_list():
    x = gn.input("x")
    assert isinstance(gn.evaluate(x, {"x": 1.0}), np.ndarray)
    assert isinstance(gn.evaluate([x], {"x": 1.0}), list)
    with pytest.raises(gn.OpError, match="output 1 is a float"):
        gn.evaluate([x, 1.0], {"x": 1.0})


def test_inputs_with_the_same_name_and_different_shapes_are_an_error():
    a = gn.input("dup", shape=(2,))
    b = gn.input("dup", shape=(3,))
    with pytest.raises(gn.InputError, match="two different inputs are named 'dup'"):
        gn.evaluate(gn.sum(a) + gn.sum(b), {"dup": np.ones(2)})


@pytest.mark.parametrize("dtype, value", [("float64", 10**400), ("float64", [1.0, 10**400]),
                                          ("float32", 10**400)])
def test_numbers_beyond_the_dtypes_range_are_input_errors(dtype, value):
    # the reproducer: a huge Python int as an input raised OverflowError
    x = gn.input("x", shape=np.shape(value) if isinstance(value, list) else (), dtype=dtype)
    f = gn.compile(x * 2.0)
    for run in (lambda: gn.evaluate(x * 2.0, {"x": value}), lambda: f(value),
                lambda: f(x=value)):
        with pytest.raises(gn.InputError, match=f"input 'x' expects a {dtype} array .* beyond "
                                                f"{dtype}'s range"):
            run()


@pytest.mark.parametrize("value", [[None, 1.0], ["1", 2.0], [[1.0], [2.0, 3.0]]])
def test_lists_of_anything_but_numbers_are_refused(value):
    # NumPy would make None a NaN and "1" the number 1.0: silent garbage
    x = gn.input("x", shape=(2,))
    f = gn.compile(x * 2.0)
    for run in (lambda: gn.evaluate(x * 2.0, {"x": value}), lambda: f(value)):
        with pytest.raises(gn.InputError, match=r"input 'x' expects a float64 array of shape "
                                                r"\(2,\), got \["):
            run()
