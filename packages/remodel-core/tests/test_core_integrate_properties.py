"""Properties of remodel_core.integrate that killed surviving mutants of tools/mutation.sh (docs/TESTING.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from remodel_core.integrate import METHODS, dopri5_step
from remodel_core.integrate._adaptive import ORDER, dopri5_solve

D = torch.float64


def _rhs(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.cos(t) * y  # y = exp(sin t)


def test_the_stated_dopri5_order_is_the_measured_one():
    """METHODS["dopri5"] and the step-size controller's ORDER are the order DOPRI5 reaches."""
    y0 = torch.tensor([1.0], dtype=D)
    hs = [0.2, 0.1, 0.05, 0.025]
    errs = []
    for h in hs:
        y = y0
        for k in range(round(1.0 / h)):
            y, _, _ = dopri5_step(_rhs, torch.tensor(k * h, dtype=D), y, h)
        errs.append(abs(float(y[0]) - math.exp(math.sin(1.0))))
    measured = float(np.polyfit(np.log(hs), np.log(errs), 1)[0])
    assert METHODS["dopri5"] == ORDER
    assert abs(measured - METHODS["dopri5"]) < 0.3, measured


def test_dopri5_solve_counts_every_evaluation():
    """The count dopri5_solve reports is the number of calls of f, with and without a given first step."""
    for first_step in (None, 0.01):
        calls = [0]

        def f(t, y, calls=calls):
            calls[0] += 1
            return _rhs(t, y)

        _, stats = dopri5_solve(
            f,
            torch.tensor([1.0], dtype=D),
            [0.0, 0.5, 1.0],
            rtol=1e-8,
            atol=1e-10,
            max_steps=10_000,
            first_step=first_step,
            max_step=math.inf,
            controller="pi",
        )
        assert stats["nfev"] == calls[0] == 6 * (stats["steps"] + stats["rejected"]) + 1 + (first_step is None)


def test_automatic_first_step_follows_hairer_norsett_wanner():
    """The starting step of Hairer, Nørsett & Wanner (Section II.4) worked out by hand for y' = -lam y, y(0) = 1."""
    from remodel_core.integrate._adaptive import _initial_step

    rtol, atol = 1e-6, 1e-9
    sk = atol + rtol
    y0 = torch.tensor([1.0], dtype=D)
    for lam in (1.0, 1000.0):
        h = _initial_step(
            lambda t, y, lam=lam: -lam * y, torch.tensor(0.0, dtype=D), y0, -lam * y0, rtol, atol, math.inf
        )
        d0, d1 = 1 / sk, lam / sk
        h0 = 0.01 * d0 / d1
        d2 = lam * lam * h0 / sk / h0  # |f(h0) - f(0)| / sk / h0 with f(h0) = -lam (1 - lam h0)
        h1 = (0.01 / max(d1, d2)) ** (1 / ORDER)
        assert h == pytest.approx(min(100 * h0, h1), rel=1e-9), (lam, h)


def test_implicit_step_options_are_keyword_only():
    from remodel_core.integrate import implicit_midpoint_step

    q = p = torch.zeros(1, dtype=D)
    implicit_midpoint_step(lambda q, p: (q, p), q, p, 0.1, tol=1e-10)
    with pytest.raises(TypeError):
        implicit_midpoint_step(lambda q, p: (q, p), q, p, 0.1, 1e-10)
