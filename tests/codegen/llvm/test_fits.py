"""codegen/llvm/fits.py reproduces the float64 erf and Φ coefficients that special.py holds,
and each fit's own error (truncation and coefficients rounded to double) stays a small part of
the ulp bounds test_special.py checks."""

from __future__ import annotations

import numpy as np
import pytest

from codegen.llvm import fits, special

HELD = {"HEAD64": special.HEAD64, "ERF_TAIL": special.ERF_TAIL.coefficients,
        "PHI_TAIL": special.PHI_TAIL.coefficients}


@pytest.mark.parametrize("name", sorted(fits.FITS))
def test_the_fit_gives_the_coefficients_special_py_holds(name):
    coefficients, error = fits.FITS[name]()
    # a few units of the last place: a different LAPACK may round a least-squares step apart
    np.testing.assert_allclose(coefficients, HELD[name], rtol=1e-13, atol=0)
    assert error <= 0.25 * fits.EPS, f"{name}: {error / fits.EPS:.3f} ulp"
