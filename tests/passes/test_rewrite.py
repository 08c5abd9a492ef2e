"""The pattern language and the rewrite engine."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import graphnn as gn
from graphnn.passes.rewrite import (
    AnyConst,
    Const,
    P,
    RewriteError,
    Rule,
    Var,
    find,
    rewrite,
    uses,
)

x, y = Var("x"), Var("y")


def _matches(pattern, node) -> dict | None:
    bindings: dict = {}
    return bindings if pattern.match(node, bindings) else None


def test_a_variable_used_twice_matches_one_node():
    a, b = gn.input("a", shape=(2,)), gn.input("b", shape=(2,))
    assert _matches(P.mul(x, x), a * a) == {"x": a}
    assert _matches(P.mul(x, x), a * b) is None


def test_constants_match_by_bits_including_splats_and_uniform_arrays():
    a = gn.input("a", shape=(2,))
    assert _matches(P.add(x, -0.0), a + gn.constant(-0.0)) is not None
    assert _matches(P.add(x, -0.0), a + 0.0) is None
    assert _matches(P.mul(x, 1.0), a * np.ones((3, 2))) is not None
    assert _matches(P.mul(x, 1.0), a * gn.broadcast_to(gn.constant(1.0), (2,))) is not None
    assert _matches(P.mul(x, 1.0), a * np.array([1.0, 2.0])) is None
    assert _matches(P.mul(x, Const(np.nan)), a * np.nan) is not None
    assert _matches(P.mul(x, AnyConst("c")), a * np.array([1.0, 2.0]))["c"].op == "constant"


def test_only_exactly_commutative_ops_match_either_order():
    a = gn.input("a", shape=(2,))
    assert _matches(P.mul(x, 2.0), 2.0 * a) == {"x": a}
    assert _matches(P.maximum(x, 2.0), gn.maximum(2.0, a)) is None
    assert _matches(P.div(x, 2.0), 2.0 / a) is None


def test_builders_get_the_bindings_they_name_and_may_decline():
    a = gn.input("a", shape=(2,))
    seen = []
    rule = Rule("spy", P.mul(x, y), lambda node, y: seen.append((node.op, y.op)))
    assert rewrite(gn.Graph(a * 3.0), [rule]) is not None
    assert seen == [("mul", "constant")]


def test_rules_that_undo_each_other_are_reported():
    a = gn.input("a", shape=(2,))
    rules = [Rule("x * 2 -> x * 3", P.mul(x, 2.0), lambda x: x * 3.0),
             Rule("x * 3 -> x * 2", P.mul(x, 3.0), lambda x: x * 2.0)]
    with pytest.raises(RewriteError) as caught:
        rewrite(gn.Graph(a * 2.0), rules)
    assert str(caught.value) == \
        "rules still fire after 64 rounds: ['x * 2 -> x * 3', 'x * 3 -> x * 2']"


def test_a_builder_must_keep_the_dtype():
    a = gn.input("a", shape=(2,))
    rule = Rule("bad", P.exp(x), lambda x: gn.constant(np.zeros(2, np.float32)))
    with pytest.raises(RewriteError, match="rule 'bad' built"):
        rewrite(gn.Graph(gn.exp(a)), [rule])


def test_a_smaller_result_is_broadcast_to_the_node_shape():
    v = gn.input("v", shape=(3,))
    after = rewrite(gn.Graph(v * np.ones((2, 3))), [Rule("x * 1 -> x", P.mul(x, 1.0),
                                                         lambda x: x)])
    (out,) = after.outputs
    assert (out.op, out.shape, out.inputs) == ("broadcast_to", (2, 3), (v,))


def test_builders_see_the_graph_of_the_round():
    a = gn.input("a", shape=(2,))
    e = gn.exp(a)
    log: Counter = Counter()

    def probe(x):
        log[(uses(x), find("exp", x) is e, find("log", x))] += 1

    rewrite(gn.Graph([e * e, gn.sqrt(a)]), [Rule("probe", P.sqrt(x), probe)])
    assert log == {(2, True, None): 1}


def test_outside_a_rewrite_the_graph_questions_are_an_error():
    with pytest.raises(RewriteError, match="only available inside a rewrite"):
        uses(gn.input("a"))


def test_patterns_take_registered_ops_and_numbers():
    with pytest.raises(AttributeError, match="no op 'frobnicate'"):
        P.frobnicate(x)
    with pytest.raises(TypeError, match="a Pattern or a number"):
        P.mul(x, "one")
