"""Shape helpers: broadcasting and axis normalization, as numpy does them."""

from __future__ import annotations

import numpy as np
import pytest

from graphnn.errors import ShapeError
from graphnn.shapes import broadcast, broadcasts_to, normalize_axes


@pytest.mark.parametrize("shapes", [((3, 1), (4,)), ((), (2, 3)), ((2, 1, 4), (3, 1)),
                                    ((1,), (1,)), ((5, 1, 1), (1, 6, 1), (1, 1, 7))])
def test_broadcast_matches_numpy(shapes):
    assert broadcast(*shapes) == np.broadcast_shapes(*shapes)


def test_broadcast_error_names_the_dimension():
    with pytest.raises(ShapeError, match=r"dimension -1 has sizes \[3, 4\]"):
        broadcast((2, 3), (4,))


def test_broadcasts_to():
    assert broadcasts_to((3, 1), (2, 3, 5)) and not broadcasts_to((3,), (3, 2))


def test_normalize_axes():
    assert normalize_axes(None, 3) == (0, 1, 2)
    assert normalize_axes((-1, 0), 3) == (0, 2)
    with pytest.raises(ShapeError, match="repeats"):
        normalize_axes((0, -3), 3)
