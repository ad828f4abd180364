"""Adaptive Dormand–Prince 5(4) with FSAL, PI step-size control and automatic initial step.

References
----------
J. R. Dormand and P. J. Prince, "A family of embedded Runge-Kutta formulae", J. Comput. Appl. Math. 6 (1980) 19-26.
E. Hairer, S. P. Nørsett and G. Wanner, *Solving Ordinary Differential Equations I*, 2nd ed., Springer 1993:
Section II.4 (error estimate, step-size selection, starting step size) and Section IV.2 / II.4 (PI control,
Gustafsson 1991) as implemented in their code DOPRI5.
"""

from __future__ import annotations

import math

import torch

from ._explicit import RHS

# Butcher tableau of DOPRI5 (Dormand & Prince 1980, Table 2 / HNW I, Table II.5.2).
C2, C3, C4, C5 = 1 / 5, 3 / 10, 4 / 5, 8 / 9
A21 = 1 / 5
A31, A32 = 3 / 40, 9 / 40
A41, A42, A43 = 44 / 45, -56 / 15, 32 / 9
A51, A52, A53, A54 = 19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729
A61, A62, A63, A64, A65 = 9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656
A71, A73, A74, A75, A76 = 35 / 384, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84
# Error coefficients b - b_hat (fifth-order minus embedded fourth-order weights).
E1, E3, E4, E5, E6, E7 = 71 / 57600, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40

ORDER = 5


def dopri5_step(
    f: RHS, t: torch.Tensor, y: torch.Tensor, h: float, k1: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One Dormand–Prince 5(4) step (Dormand & Prince 1980).

    Parameters
    ----------
    f : callable
        Right-hand side ``f(t, y)``.
    t : torch.Tensor
        Current time (0-d tensor).
    y : torch.Tensor
        Current state.
    h : float
        Step size.
    k1 : torch.Tensor, optional
        ``f(t, y)`` if already known (first same as last: the previous step's last stage).

    Returns
    -------
    y5 : torch.Tensor
        Fifth-order solution at ``t + h``.
    err : torch.Tensor
        Local error estimate ``y5 - y4`` (difference to the embedded fourth-order solution).
    k7 : torch.Tensor
        ``f(t + h, y5)``, the first stage of the next step (FSAL). Six evaluations of ``f`` when ``k1`` is given.

    Examples
    --------
    >>> import torch
    >>> y5, err, _ = dopri5_step(lambda t, y: -y, torch.tensor(0.0, dtype=torch.float64),
    ...                          torch.ones(1, dtype=torch.float64), 0.1)
    >>> abs(float(y5) - 0.9048374180359595) < 1e-9, float(err.abs()) < 1e-7
    (True, True)
    """
    if k1 is None:
        k1 = f(t, y)
    k2 = f(t + C2 * h, y + h * (A21 * k1))
    k3 = f(t + C3 * h, y + h * (A31 * k1 + A32 * k2))
    k4 = f(t + C4 * h, y + h * (A41 * k1 + A42 * k2 + A43 * k3))
    k5 = f(t + C5 * h, y + h * (A51 * k1 + A52 * k2 + A53 * k3 + A54 * k4))
    k6 = f(t + h, y + h * (A61 * k1 + A62 * k2 + A63 * k3 + A64 * k4 + A65 * k5))
    y5 = y + h * (A71 * k1 + A73 * k3 + A74 * k4 + A75 * k5 + A76 * k6)
    k7 = f(t + h, y5)
    err = h * (E1 * k1 + E3 * k3 + E4 * k4 + E5 * k5 + E6 * k6 + E7 * k7)
    return y5, err, k7


def _rms(x: torch.Tensor) -> float:
    return float(torch.sqrt(torch.mean(x.abs() ** 2)))


def _initial_step(
    f: RHS, t0: torch.Tensor, y0: torch.Tensor, f0: torch.Tensor, rtol: float, atol: float, hmax: float
) -> float:
    """Starting step size of Hairer, Nørsett & Wanner (1993), Section II.4, 'Starting Step Size' (one evaluation)."""
    # Detached inputs rather than no_grad: f may itself need autograd (e.g. a Hamiltonian network's gradient).
    y0d, f0d = y0.detach(), f0.detach()
    sk = atol + rtol * y0d.abs()
    d0, d1 = _rms(y0d / sk), _rms(f0d / sk)
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    h0 = min(h0, hmax)
    f1 = f(t0 + h0, y0d + h0 * f0d).detach()
    d2 = _rms((f1 - f0d) / sk) / h0
    dmax = max(d1, d2)
    h1 = max(1e-6, h0 * 1e-3) if dmax <= 1e-15 else (0.01 / dmax) ** (1.0 / ORDER)
    h = min(100.0 * h0, h1, hmax)
    if not math.isfinite(h) or h <= 0.0:
        h = min(1e-6, hmax)
    return h


def dopri5_solve(
    f: RHS,
    y0: torch.Tensor,
    times: list[float],
    *,
    rtol: float,
    atol: float,
    max_steps: int,
    first_step: float | None,
    max_step: float,
    controller: str,
    safety: float = 0.9,
) -> tuple[list[torch.Tensor], dict[str, int]]:
    """Integrate with adaptive DOPRI5, landing exactly on every output time.

    Step-size control follows Hairer's DOPRI5 code: with ``err`` the RMS of the error estimate scaled by
    ``atol + rtol * max(|y_n|, |y_{n+1}|)``, the new step is ``h * clip(safety * err^-a * err_old^b, 1/10, 5)``,
    ``a = 1/5 - 0.75 b``, ``b = 0.04`` for the PI controller (Gustafsson 1991) and ``b = 0`` for the standard
    controller; no increase right after a rejection. Counts: ``nfev = 6 * (steps + rejected) + 1`` plus one for
    the automatic initial step size, when ``first_step`` is not given.
    """
    beta = 0.04 if controller == "pi" else 0.0
    expo1 = 1.0 / ORDER - 0.75 * beta
    facc1, facc2 = 5.0, 0.1  # largest increase, largest decrease
    dtype, device = y0.dtype, y0.device
    eps = torch.finfo(dtype).eps
    if len(times) == 1:
        return [y0], {"nfev": 0, "steps": 0, "rejected": 0}
    t_cur = times[0]
    nonfinite = False
    t_tensor = torch.tensor(t_cur, dtype=dtype, device=device)
    y = y0
    k1 = f(t_tensor, y)
    nfev = 1
    span = times[-1] - times[0]
    if first_step is None:
        h = _initial_step(f, t_tensor, y, k1, rtol, atol, min(max_step, span))
        nfev += 1
    else:
        h = min(first_step, max_step)
    facold = 1e-4
    steps = rejected = 0
    last_rejected = False
    out = [y0]
    for target in times[1:]:
        while t_cur < target:
            if steps + rejected >= max_steps:
                raise RuntimeError(
                    f"dopri5 reached max_steps={max_steps} at t={t_cur:.6g} before t={target:.6g}; "
                    "increase max_steps, loosen rtol/atol, or check the problem for stiffness"
                )
            if h <= 16.0 * eps * max(abs(t_cur), 1.0):
                if nonfinite:
                    raise FloatingPointError(
                        f"dopri5: the right-hand side f returned NaN/Inf at every trial step from t={t_cur:.6g} "
                        f"(down to h={h:.3g}); check f for a division by zero, a log/sqrt of a negative number "
                        "or a blow-up of the solution"
                    )
                raise RuntimeError(
                    f"dopri5 step size underflow (h={h:.3g}) at t={t_cur:.6g}: the solution may blow up "
                    "or the problem is too stiff for an explicit method"
                )
            last = t_cur + 1.01 * h >= target
            h_step = target - t_cur if last else h
            t_tensor = torch.tensor(t_cur, dtype=dtype, device=device)
            y_new, err_vec, k7 = dopri5_step(f, t_tensor, y, h_step, k1)
            nfev += 6
            sk = atol + rtol * torch.maximum(y.detach().abs(), y_new.detach().abs())
            err = _rms(err_vec.detach() / sk)
            nonfinite = not math.isfinite(err)
            if nonfinite:
                err = math.inf
            fac11 = err**expo1 if err > 0 else 0.0
            if err <= 1.0:
                fac = fac11 / facold**beta
                fac = max(facc2, min(facc1, fac / safety))
                h_new = h_step / fac
                facold = max(err, 1e-4)
                if last_rejected:
                    h_new = min(h_new, h_step)
                last_rejected = False
                steps += 1
                t_cur = target if last else t_cur + h_step
                y, k1 = y_new, k7
                h = min(h_new, max_step)
            else:
                h = h_step / min(facc1, fac11 / safety)
                last_rejected = True
                rejected += 1
        out.append(y)
    return out, {"nfev": nfev, "steps": steps, "rejected": rejected}
