"""Bad attributes and operands of the convolution, pooling and normalization ops are clear
build-time errors naming the op, its operands and the user's line."""

from __future__ import annotations

import numpy as np
import pytest

import graphnn as gn
from graphnn.errors import ShapeError

X = gn.input("x", shape=(1, 4, 6, 6))

CASES = [
    (lambda: gn.conv2d(X, np.ones((4, 3, 3, 3)), groups=2),
     r"conv2d\(x \[1,4,6,6\], w \[4,3,3,3\]\): x has 4 channels but w expects 3 x 2 groups"),
    (lambda: gn.conv2d(X, np.ones((3, 2, 3, 3)), groups=2),
     r"w has 3 output channels, which 2 groups do not divide"),
    (lambda: gn.conv2d(X, np.ones((4, 4, 3, 3)), dilation=4),
     r"kernel height 3 \(spanning 9 with dilation 4\) is larger than the padded input"),
    (lambda: gn.conv2d(X, np.ones((4, 4, 3, 3)), padding=((1, -1), (0, 0))),
     r"padding >= 0, got .*padding \(\(1, -1\), \(0, 0\)\)"),
    (lambda: gn.conv2d(X, np.ones((4, 4, 3, 3)), groups=0), r"groups must be an int >= 1"),
    (lambda: gn.conv2d(X, np.ones((4, 4, 3, 3)), groups=2.0), r"groups must be an int >= 1"),
    (lambda: gn.conv1d(X, np.ones((4, 4, 3))), r"conv1d\(.*\): x must be 3-D \(N, C, L\)"),
    (lambda: gn.max_pool2d(X, kernel=2, padding=2),
     r"max_pool2d\(x \[1,4,6,6\]\): padding .* smaller than the kernel"),
    (lambda: gn.avg_pool2d(X, kernel=3, padding=((0, -1), (0, 0))),
     r"avg_pool2d\(x \[1,4,6,6\]\): padding .* must be >= 0"),
    (lambda: gn.global_avg_pool2d(gn.input("v", shape=(2, 3))),
     r"global_avg_pool2d\(x \[2,3\]\): x must be 4-D"),
    (lambda: gn.layer_norm(X, eps=-1.0), r"layer_norm\(x \[1,4,6,6\]\): eps must be a finite"),
    (lambda: gn.layer_norm(X, axis=4), r"axis 4 is out of range for an array of rank 4"),
    (lambda: gn.batch_norm(X, np.ones(3), np.ones(4), np.ones(4), np.ones(4)),
     r"batch_norm\(x \[1,4,6,6\], mean \[3\], .*\): mean must have shape \(4,\), one value "
     r"per channel"),
    (lambda: gn.input("a", shape=(2, 3, 4)) @ gn.input("b", shape=(3, 5, 2)),
     r"matmul\(a \[2,3,4\], b \[3,5,2\]\): inner dimensions differ"),
]


@pytest.mark.parametrize("build, message", CASES)
def test_bad_operands_are_clear_errors_at_the_users_line(build, message):
    with pytest.raises(ShapeError, match=message) as error:
        build()
    assert "test_conv_errors.py, line" in str(error.value)
