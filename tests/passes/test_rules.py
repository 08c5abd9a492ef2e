"""Each rule of every table as a before/after golden test: it fires on its example graph, the
result passes the invariant checks, and both graphs evaluate to the same bits at edge values."""

from __future__ import annotations

from collections import Counter

import pytest

import graphnn as gn
from graphnn.passes.dce import DEAD
from graphnn.passes.fold import FOLD
from graphnn.passes.report import same_bits
from graphnn.passes.reuse import REUSE
from graphnn.passes.rewrite import rewrite
from graphnn.passes.simplify import SIMPLIFY
from graphnn.passes.verify import verify
from tests.passes.rule_examples import EXAMPLES, edge_feed
from tests.passes.support import stable

RULES = {rule.name: rule for rule in FOLD + SIMPLIFY + REUSE + DEAD}


def test_every_rule_has_an_example():
    assert len(RULES) == len(FOLD + SIMPLIFY + REUSE + DEAD), "two rules share a name"
    assert set(EXAMPLES) == set(RULES)


@pytest.mark.parametrize("name", list(RULES), ids=[EXAMPLES[n][0] for n in RULES])
def test_rule_before_after(name, golden):
    stem, build = EXAMPLES[name]
    before = stable(build())
    fired: Counter = Counter()
    after = rewrite(before, [RULES[name]], fired)
    assert fired[name] > 0, f"{name} did not fire on its example"
    verify(after, before, after=name)
    # raw: print would leave out the x * 1 and x / 1 the rules are shown removing
    text = f"# {name}\n\n{before.text(raw=True)}\n\n{after.text(raw=True)}\n"
    golden(f"rules/{stem}.txt", text)
    for shift in range(3):
        feed = edge_feed(before, shift)
        for k, (a, b) in enumerate(zip(gn.evaluate(before, feed), gn.evaluate(after, feed))):
            assert same_bits(a, b), f"{name}: output {k} differs at {feed}:\n{a}\n{b}"
