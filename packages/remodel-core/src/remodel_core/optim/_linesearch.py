"""Strong Wolfe line search with cubic interpolation (Nocedal & Wright, *Numerical Optimization*, 2nd ed.,
Algorithms 3.5 and 3.6), safe against NaN/Inf trial values."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

__all__ = ["LineSearchResult", "cubic_minimizer", "strong_wolfe"]


@dataclasses.dataclass
class LineSearchResult:
    """Outcome of :func:`strong_wolfe`.

    Parameters
    ----------
    alpha : float
        The accepted step (0.0 when nothing better than the start was found).
    f, dphi : float
        ``phi(alpha)`` and ``phi'(alpha)`` at the accepted step.
    extra : tuple
        Whatever ``phi`` returned after ``(f, dphi)`` at the accepted step (e.g. the full gradient),
        so the caller never evaluates the accepted point twice.
    evals : int
        Number of calls of ``phi``.
    success : bool
        True when the strong Wolfe conditions hold at ``alpha``; False when the search ran out of
        evaluations or its bracket collapsed (``alpha`` is then the best point with sufficient decrease,
        or 0.0).
    """

    alpha: float
    f: float
    dphi: float
    extra: tuple[Any, ...]
    evals: int
    success: bool


def cubic_minimizer(a: float, fa: float, da: float, b: float, fb: float, db: float, lo: float, hi: float) -> float:
    """Minimiser of the cubic interpolating ``(a, fa, da)`` and ``(b, fb, db)``, clipped to ``[lo, hi]``.

    Nocedal & Wright eq. (3.59); falls back to the midpoint of ``[lo, hi]`` when the cubic has no
    minimiser (complex root) or the data are not finite.

    Parameters
    ----------
    a, fa, da : float
        First point, the value and the derivative there.
    b, fb, db : float
        Second point, the value and the derivative there.
    lo, hi : float
        The interval the result is clipped to (either order).

    Returns
    -------
    float
        The clipped minimiser, or the midpoint of ``[lo, hi]``.

    Examples
    --------
    >>> # f(x) = (x - 1)^2 sampled at 0 and 3: the interpolating cubic is the parabola itself
    >>> round(cubic_minimizer(0.0, 1.0, -2.0, 3.0, 4.0, 4.0, 0.0, 3.0), 12)
    1.0
    """
    lo, hi = min(lo, hi), max(lo, hi)
    vals = (a, fa, da, b, fb, db)
    if not all(math.isfinite(v) for v in vals) or a == b:
        return 0.5 * (lo + hi)
    d1 = da + db - 3.0 * (fa - fb) / (a - b)
    disc = d1 * d1 - da * db
    if disc < 0:
        return 0.5 * (lo + hi)
    d2 = math.copysign(math.sqrt(disc), b - a)
    denom = db - da + 2.0 * d2
    if denom == 0 or not math.isfinite(denom):
        return 0.5 * (lo + hi)
    x = b - (b - a) * (db + d2 - d1) / denom
    if not math.isfinite(x):
        return 0.5 * (lo + hi)
    return min(max(x, lo), hi)


def _check(name: str, value: float, lo: float, hi: float) -> None:
    if not (lo < value < hi):
        raise ValueError(f"{name} must lie in ({lo}, {hi}), got {value!r}")


def strong_wolfe(
    phi: Callable[[float], tuple[Any, ...]],
    f0: float,
    dphi0: float,
    alpha0: float = 1.0,
    *,
    c1: float = 1e-4,
    c2: float = 0.9,
    max_evals: int = 25,
    alpha_max: float = math.inf,
    extra0: tuple[Any, ...] = (),
    shrink: float = 0.25,
) -> LineSearchResult:
    """Find a step ``alpha`` satisfying the strong Wolfe conditions for ``phi(alpha) = f(x + alpha d)``.

    Bracketing phase (N&W Alg. 3.5) with cubic extrapolation, then ``zoom`` (Alg. 3.6) with safeguarded
    cubic interpolation. A trial step with a non-finite value or slope is treated as "too long": the step
    shrinks by ``shrink`` towards the last finite point, and no later trial goes beyond it.

    Parameters
    ----------
    phi : callable
        ``phi(alpha) -> (f, dphi, *extra)``: value and directional derivative at ``alpha`` plus anything
        the caller wants back for the accepted point.
    f0, dphi0 : float
        ``phi(0)`` and ``phi'(0)``; ``dphi0`` must be negative (a descent direction).
    alpha0 : float
        First trial step (> 0).
    c1, c2 : float
        Sufficient decrease and curvature constants, ``0 < c1 < c2 < 1``.
    max_evals : int
        Most calls of ``phi``.
    alpha_max : float
        Largest step tried.
    extra0 : tuple
        The ``extra`` reported when no step is accepted (``alpha = 0``).
    shrink : float
        Factor in (0, 1) applied to a step whose trial value is not finite.

    Returns
    -------
    LineSearchResult

    Examples
    --------
    >>> phi = lambda a: ((a - 3.0) ** 2, 2.0 * (a - 3.0))
    >>> res = strong_wolfe(phi, 9.0, -6.0, 1.0)
    >>> res.success, abs(res.dphi) <= 0.9 * 6.0
    (True, True)
    """
    _check("c1", c1, 0.0, 1.0)
    _check("c2", c2, c1, 1.0)
    _check("shrink", shrink, 0.0, 1.0)
    if not (alpha0 > 0 and math.isfinite(alpha0)):
        raise ValueError(f"alpha0 must be a positive finite number, got {alpha0!r}")
    if isinstance(max_evals, bool) or not isinstance(max_evals, int) or max_evals < 1:
        raise ValueError(f"max_evals must be a positive integer, got {max_evals!r}")
    if not (math.isfinite(f0) and math.isfinite(dphi0)):
        raise ValueError(f"phi(0) and phi'(0) must be finite, got {f0!r}, {dphi0!r}")
    if dphi0 >= 0:
        raise ValueError(f"dphi0 must be negative (a descent direction), got {dphi0!r}")

    evals = 0
    # best point with sufficient decrease seen so far (fallback on failure)
    best = (0.0, f0, dphi0, tuple(extra0))

    def call(alpha: float) -> tuple[float, float, tuple[Any, ...]]:
        nonlocal evals, best
        out = phi(alpha)
        evals += 1
        f, d = float(out[0]), float(out[1])
        extra = tuple(out[2:])
        if math.isfinite(f) and math.isfinite(d) and f <= f0 + c1 * alpha * dphi0 and f < best[1]:
            best = (alpha, f, d, extra)
        return f, d, extra

    def done(alpha: float, f: float, d: float, extra: tuple[Any, ...]) -> LineSearchResult:
        return LineSearchResult(alpha, f, d, extra, evals, True)

    def fail() -> LineSearchResult:
        a, f, d, extra = best
        return LineSearchResult(a, f, d, extra, evals, False)

    def armijo_fails(alpha: float, f: float) -> bool:
        return f > f0 + c1 * alpha * dphi0

    def zoom(lo: float, f_lo: float, d_lo: float, hi: float, f_hi: float, d_hi: float) -> LineSearchResult:
        while evals < max_evals:
            width = abs(hi - lo)
            if width <= 1e-12 * max(1.0, abs(lo)) or width == 0.0:
                break
            # safeguarded cubic: stay at least 10% of the interval away from both ends
            margin = 0.1 * width
            a_lo, a_hi = min(lo, hi) + margin, max(lo, hi) - margin
            if math.isfinite(f_hi) and math.isfinite(d_hi):
                alpha = cubic_minimizer(lo, f_lo, d_lo, hi, f_hi, d_hi, a_lo, a_hi)
            else:
                alpha = lo + shrink * (hi - lo)
            f, d, extra = call(alpha)
            if not (math.isfinite(f) and math.isfinite(d)):
                hi, f_hi, d_hi = alpha, math.inf, math.nan
                continue
            if armijo_fails(alpha, f) or f >= f_lo:
                hi, f_hi, d_hi = alpha, f, d
            else:
                if abs(d) <= -c2 * dphi0:
                    return done(alpha, f, d, extra)
                if d * (hi - lo) >= 0:
                    hi, f_hi, d_hi = lo, f_lo, d_lo
                lo, f_lo, d_lo = alpha, f, d
        return fail()

    a_prev, f_prev, d_prev = 0.0, f0, dphi0
    alpha = min(alpha0, alpha_max)
    limit = alpha_max
    first = True
    while evals < max_evals:
        f, d, extra = call(alpha)
        if not (math.isfinite(f) and math.isfinite(d)):
            limit = alpha
            alpha = a_prev + shrink * (alpha - a_prev)
            continue
        if armijo_fails(alpha, f) or (not first and f >= f_prev):
            return zoom(a_prev, f_prev, d_prev, alpha, f, d)
        if abs(d) <= -c2 * dphi0:
            return done(alpha, f, d, extra)
        if d >= 0:
            return zoom(alpha, f, d, a_prev, f_prev, d_prev)
        # extrapolate: cubic step kept in [alpha + 1.1 (alpha - a_prev)... 10 alpha], below the limit
        lo_ext = alpha + 1.1 * (alpha - a_prev)
        hi_ext = min(10.0 * alpha, limit if math.isfinite(limit) else math.inf)
        if hi_ext <= alpha:
            break
        lo_ext = min(lo_ext, hi_ext)
        if math.isfinite(limit) and limit < math.inf and hi_ext >= limit:
            hi_ext = alpha + 0.5 * (limit - alpha)
            lo_ext = min(lo_ext, hi_ext)
        new = cubic_minimizer(a_prev, f_prev, d_prev, alpha, f, d, lo_ext, hi_ext)
        a_prev, f_prev, d_prev = alpha, f, d
        alpha = new
        first = False
    return fail()
