"""Sparse identification of nonlinear dynamics (SINDy) as a scikit-learn estimator."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from remodel_core import check_positive
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from ._differentiation import finite_difference, savgol_derivative
from ._libraries import PolynomialLibrary, _Library
from ._stlsq import stlsq, stlsq_reference

_DIFFERENTIATION = ("finite_difference", "savgol")


class SINDy(BaseEstimator):
    """Sparse identification of nonlinear dynamics (Brunton, Proctor & Kutz, PNAS 113, 2016).

    Fits ``x' = Theta(x) Xi`` with a library ``Theta`` of candidate functions and sparse coefficients
    ``Xi`` found by sequentially thresholded least squares (:func:`~remodel_dynamics.sindy.stlsq`, numba).

    Parameters
    ----------
    library : PolynomialLibrary, FourierLibrary or ConcatLibrary, optional
        Candidate functions; default polynomials of degree 2.
    threshold : float
        STLSQ sparsity threshold.
    alpha : float
        Ridge weight of the least-squares fits.
    max_iter : int
        Most STLSQ rounds.
    differentiation : {"finite_difference", "savgol"}
        How ``fit`` estimates derivatives when ``x_dot`` is not given.
    fd_order : int
        Accuracy order of the finite differences (even).
    window, polyorder : int
        Savitzky-Golay window length (odd) and polynomial degree.
    feature_names : list of str, optional
        Names of the state variables in :meth:`equations` (default ``x0, x1, ...``).
    backend : {"numba", "numpy"}
        STLSQ implementation.
    t_default : float, optional
        Time step used by :meth:`fit` and :meth:`score` when neither ``t`` nor ``x_dot`` is given (pysindy's
        ``t_default``); with it, ``cross_val_score`` and ``GridSearchCV``, which call ``fit(x)`` and ``score(x)``,
        work on equispaced trajectories. By default ``t`` (or ``x_dot``) is required.

    Attributes
    ----------
    coefficients_ : array, shape (n_targets, n_library_features)
    library_ : the fitted library
    feature_names_ : list of str
        The library's column names.
    n_features_in_ : int

    Examples
    --------
    >>> t = np.linspace(0, 5, 501)
    >>> x = np.stack([np.cos(t), -np.sin(t)], axis=1)       # x' = y, y' = -x
    >>> model = SINDy(PolynomialLibrary(degree=1), threshold=0.05, fd_order=6, feature_names=["x", "y"]).fit(x, t)
    >>> model.equations(precision=3)
    ["x' = 1.000 y", "y' = -1.000 x"]

    Model selection over contiguous blocks of one trajectory:

    >>> from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
    >>> model = SINDy(PolynomialLibrary(degree=1), t_default=t[1] - t[0])
    >>> search = GridSearchCV(model, {"threshold": [0.05, 0.5], "fd_order": [2, 6]}, cv=TimeSeriesSplit(3)).fit(x)
    >>> search.best_params_, search.best_estimator_.equations(precision=3)
    ({'fd_order': 6, 'threshold': 0.05}, ["x0' = 1.000 x1", "x1' = -1.000 x0"])
    """

    def __init__(
        self,
        library: _Library | None = None,
        threshold: float = 0.1,
        alpha: float = 0.0,
        max_iter: int = 20,
        differentiation: str = "finite_difference",
        fd_order: int = 2,
        window: int = 11,
        polyorder: int = 3,
        feature_names: Sequence[str] | None = None,
        backend: str = "numba",
        t_default: float | None = None,
    ) -> None:
        self.library = library
        self.threshold = threshold
        self.alpha = alpha
        self.max_iter = max_iter
        self.differentiation = differentiation
        self.fd_order = fd_order
        self.window = window
        self.polyorder = polyorder
        self.feature_names = feature_names
        self.backend = backend
        self.t_default = t_default

    # data handling --------------------------------------------------------------------------------
    @staticmethod
    def _trajectories(x: np.ndarray | Sequence[np.ndarray], name: str = "x") -> list[np.ndarray]:
        from sklearn.utils.validation import check_array

        trajs = list(x) if isinstance(x, list | tuple) else [x]
        if not trajs:
            raise ValueError(f"{name} must hold at least one trajectory")
        out = []
        for i, xi in enumerate(trajs):
            try:
                xi = check_array(xi, dtype=np.float64, ensure_all_finite=True, ensure_2d=False, input_name=name)
            except (TypeError, ValueError) as err:
                msg = str(err)
                raise type(err)(msg if name in msg else f"{name}: {msg}") from None
            if xi.ndim == 1:
                xi = xi[:, None]
            if xi.ndim != 2:
                raise ValueError(
                    f"{name} must be (n_times, n_features) or a list of such arrays; trajectory {i} has "
                    f"shape {xi.shape}"
                )
            out.append(xi)
        if len({xi.shape[1] for xi in out}) != 1:
            raise ValueError(f"all trajectories in {name} must have the same number of features")
        return out

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.target_tags.required = False  # fit(x, t): the second argument is time, not a target
        return tags

    def _states_and_derivatives(
        self,
        x: np.ndarray | Sequence[np.ndarray],
        t: float | np.ndarray | Sequence | None,
        x_dot: np.ndarray | Sequence[np.ndarray] | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """All trajectories' states and derivatives (given, or estimated from ``t``), stacked."""
        trajs = self._trajectories(x)
        if x_dot is not None:
            dots = self._trajectories(x_dot, "x_dot")
            if len(dots) != len(trajs) or any(a.shape != b.shape for a, b in zip(trajs, dots)):
                raise ValueError("x_dot must have the shape of x")
        else:
            if t is None:
                t = self._default_time_step()
            # a list of times is one entry per trajectory when x is a list of trajectories; for one trajectory
            # (an array) it is that trajectory's sample times, unless it holds exactly one entry
            per_trajectory = isinstance(t, list | tuple) and (isinstance(x, list | tuple) or len(t) == 1)
            ts = list(t) if per_trajectory else [t] * len(trajs)
            if len(ts) != len(trajs):
                raise ValueError(f"t must give {len(trajs)} time arrays, one per trajectory, got {len(ts)}")
            dots = [self.differentiate(xi, ti) for xi, ti in zip(trajs, ts)]
        return np.concatenate(trajs), np.concatenate(dots)

    def _default_time_step(self) -> float:
        """``t_default``, checked, for a ``fit``/``score`` given neither ``t`` nor ``x_dot``."""
        if self.t_default is None:
            raise ValueError(
                "t is needed (the time step or sample times) when x_dot is not given, or set t_default (the time "
                "step used when neither is given)"
            )
        check_positive("t_default", self.t_default)
        return float(self.t_default)

    def differentiate(self, x: np.ndarray, t: float | np.ndarray) -> np.ndarray:
        """Time derivative of one trajectory ``x`` (n_times, n_features) by the configured method."""
        if self.differentiation == "finite_difference":
            return finite_difference(x, t, order=self.fd_order)
        if self.differentiation == "savgol":
            return savgol_derivative(x, t, window=self.window, polyorder=self.polyorder)
        raise ValueError(f"differentiation must be one of {_DIFFERENTIATION}, got {self.differentiation!r}")

    # estimator API --------------------------------------------------------------------------------
    def fit(
        self,
        x: np.ndarray | Sequence[np.ndarray],
        t: float | np.ndarray | Sequence | None = None,
        x_dot: np.ndarray | Sequence[np.ndarray] | None = None,
    ) -> SINDy:
        """Fit the sparse model.

        Parameters
        ----------
        x : array (n_times, n_features) or list of arrays
            One trajectory or several.
        t : float, array or list of arrays
            Time step or sample times (per trajectory); needed unless ``x_dot`` is given.
        x_dot : array or list of arrays, optional
            Known derivatives; otherwise estimated from ``x`` and ``t``.
        """
        check_positive("max_iter", self.max_iter, integer=True)
        check_positive("threshold", self.threshold, allow_zero=True)
        check_positive("alpha", self.alpha, allow_zero=True)
        if self.library is not None and not isinstance(self.library, _Library):
            raise TypeError(
                f"library must be a SINDy library (PolynomialLibrary, ...), got {type(self.library).__name__}"
            )
        if self.backend not in ("numba", "numpy"):
            raise ValueError(f"backend must be 'numba' or 'numpy', got {self.backend!r}")
        if self.differentiation not in _DIFFERENTIATION:
            raise ValueError(f"differentiation must be one of {_DIFFERENTIATION}, got {self.differentiation!r}")
        xs, dxs = self._states_and_derivatives(x, t, x_dot)
        self.n_features_in_ = xs.shape[1]
        names = list(self.feature_names) if self.feature_names is not None else None
        if names is not None and len(names) != self.n_features_in_:
            raise ValueError(f"feature_names must name {self.n_features_in_} variables, got {len(names)}")
        self.state_names_ = names or [f"x{i}" for i in range(self.n_features_in_)]
        self.library_ = clone(self.library if self.library is not None else PolynomialLibrary(degree=2)).fit(xs)
        theta = self.library_.transform(xs)
        solver = stlsq if self.backend == "numba" else stlsq_reference
        xi = solver(theta, dxs, threshold=self.threshold, alpha=self.alpha, max_iter=self.max_iter)
        self.coefficients_ = xi.T.copy()
        self.feature_names_ = self.library_.get_feature_names(self.state_names_)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The model's time derivative ``Theta(x) Xi`` at the states ``x`` (n_samples, n_features)."""
        check_is_fitted(self, "coefficients_")
        x = np.asarray(x, dtype=np.float64)
        squeeze = x.ndim == 1
        x2 = x[None, :] if squeeze else x
        if x2.ndim != 2 or x2.shape[1] != self.n_features_in_:
            raise ValueError(f"x must have shape (n_samples, {self.n_features_in_}), got {x.shape}")
        out = self.library_.transform(x2) @ self.coefficients_.T
        return out[0] if squeeze else out

    def score(
        self,
        x: np.ndarray | Sequence[np.ndarray],
        t: float | np.ndarray | Sequence | None = None,
        x_dot: np.ndarray | Sequence[np.ndarray] | None = None,
    ) -> float:
        """Coefficient of determination R^2 of the predicted derivatives (estimated from ``t``, or ``t_default``, if
        not given).

        ``x``, ``t`` and ``x_dot`` are read as in :meth:`fit` (one trajectory or a list); R^2 is taken over the
        samples of all trajectories together.
        """
        check_is_fitted(self, "coefficients_")
        x, x_dot = self._states_and_derivatives(x, t, x_dot)
        resid = ((self.predict(x) - x_dot) ** 2).sum()
        total = ((x_dot - x_dot.mean(axis=0)) ** 2).sum()
        return float(1.0 - resid / total) if total > 0 else float(resid == 0)

    def simulate(self, x0: np.ndarray, t: np.ndarray, method: str = "dopri5", **kwargs: float) -> np.ndarray:
        """Integrate the identified model from ``x0`` to the times ``t`` with ``remodel_core.integrate.odeint``.

        Returns an array of shape (len(t), n_features).
        """
        from remodel_core.integrate import odeint

        check_is_fitted(self, "coefficients_")
        x0 = np.asarray(x0, dtype=np.float64)
        if x0.shape != (self.n_features_in_,):
            raise ValueError(f"x0 must have shape ({self.n_features_in_},), got {x0.shape}")
        t = np.ascontiguousarray(t, dtype=np.float64)
        if t.ndim != 1 or t.size < 2:
            raise ValueError("t must be a 1-d array of at least two times")

        def rhs(_t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(self.predict(y.detach().numpy()))

        if method == "dopri5":
            kwargs = {"rtol": 1e-10, "atol": 1e-10, **kwargs}
        ys = odeint(rhs, torch.from_numpy(x0), torch.from_numpy(t), method=method, **kwargs)
        return ys.detach().numpy()

    def equations(self, precision: int = 3) -> list[str]:
        """The identified equations as text, one per state variable, e.g. ``"x0' = -10.000 x0 + 10.000 x1"``."""
        check_is_fitted(self, "coefficients_")
        if isinstance(precision, bool) or not isinstance(precision, int | np.integer) or precision < 0:
            raise ValueError(f"precision must be an integer >= 0 (decimal places), got {precision!r}")
        out = []
        for name, row in zip(self.state_names_, self.coefficients_):
            terms = []
            for c, f in zip(row, self.feature_names_):
                if c == 0:
                    continue
                coef = f"{abs(c):.{precision}f}"
                body = coef if f == "1" else f"{coef} {f}"
                terms.append(("- " if c < 0 else "+ ") + body)
            rhs = " ".join(terms) if terms else "0"
            if rhs.startswith("+ "):
                rhs = rhs[2:]
            elif rhs.startswith("- "):
                rhs = "-" + rhs[2:]
            out.append(f"{name}' = {rhs}")
        return out

    def get_feature_names(self) -> list[str]:
        """Names of the library's columns."""
        check_is_fitted(self, "feature_names_")
        return list(self.feature_names_)
