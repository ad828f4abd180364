"""POD-NN: a POD basis plus a regression from parameters to POD coefficients (Hesthaven & Ubbiali 2018)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from remodel_core import ReturnCode, TrainingProblem, check_positive, solve
from remodel_core.nn import MLP
from remodel_core.optim import LBFGS, Adam
from sklearn.base import BaseEstimator, RegressorMixin, clone

from ._pod import POD
from ._sklearn import validate_X, validate_Xy


def _mse(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((model(x) - y) ** 2).mean()


class PODNN(RegressorMixin, BaseEstimator):
    """Non-intrusive reduced model: POD of the snapshots, then a regression ``mu -> POD coefficients``.

    Hesthaven & Ubbiali (2018), "Non-intrusive reduced order modeling of nonlinear problems using neural
    networks". The default regressor is a :class:`remodel_core.nn.MLP` trained through
    :func:`remodel_core.solve` (L-BFGS, float64, inputs scaled to [-1, 1], outputs standardised); any
    scikit-learn regressor can be passed instead. This estimator is the one POD-NN interface: to reduce a
    full-order model, fit it to the model's snapshots (``PODNN(product=fom.product).fit(mus, S)``); the fitted
    estimator answers the reduced-model calls ``solve(mu)`` and ``reconstruct(u_r)``.

    Parameters
    ----------
    n_components : int, optional
        POD modes (default: energy criterion).
    energy : float
    product : sparse matrix, optional
        Inner product of the POD.
    regressor : scikit-learn regressor, optional
        Used instead of the network when given (cloned at ``fit``).
    width, depth : int
        Network size.
    optimizer : {"lbfgs", "adam"}
    maxiters : int
        Optimizer iterations.
    lr : float
        Adam's learning rate.
    seed : int

    Attributes
    ----------
    pod_ : POD
    network_ : torch.nn.Module or None
    regressor_ : fitted scikit-learn regressor or None
    train_history_ : dict
    train_retcode_ : remodel_core.ReturnCode
        How the network's training ended (``Success`` for a scikit-learn regressor): ``MaxIters`` is the usual
        end of a fixed number of optimizer steps; ``Diverged`` or ``Failure`` also give a ``ConvergenceWarning``
        (the last good network is kept).

    Examples
    --------
    >>> mu = np.linspace(0, 1, 20)[:, None]
    >>> x = np.linspace(0, 1, 50)
    >>> S = np.sin(np.pi * x[None, :]) * (1 + mu) + np.cos(np.pi * x[None, :]) * mu**2
    >>> model = PODNN(n_components=2, maxiters=200).fit(mu, S)
    >>> bool(np.linalg.norm(model.predict(mu) - S) / np.linalg.norm(S) < 1e-2)
    True
    """

    def __init__(
        self,
        n_components: int | None = None,
        *,
        energy: float = 0.999999,
        product: sp.spmatrix | None = None,
        regressor: Any = None,
        width: int = 32,
        depth: int = 3,
        optimizer: str = "lbfgs",
        maxiters: int = 500,
        lr: float = 1e-3,
        seed: int = 0,
    ) -> None:
        self.n_components = n_components
        self.energy = energy
        self.product = product
        self.regressor = regressor
        self.width = width
        self.depth = depth
        self.optimizer = optimizer
        self.maxiters = maxiters
        self.lr = lr
        self.seed = seed

    def fit(self, mu: np.ndarray, snapshots: np.ndarray) -> PODNN:
        """Fit the POD of ``snapshots`` (n_samples, N) and the regression from ``mu`` (n_samples, p)."""
        mu, snapshots = validate_Xy(self, mu, snapshots, names=("mu", "snapshots"))
        self._1d_output = snapshots.ndim == 1
        snapshots = snapshots[:, None] if self._1d_output else snapshots
        if self.optimizer not in ("lbfgs", "adam"):
            raise ValueError(f"optimizer must be 'lbfgs' or 'adam', got {self.optimizer!r}")
        check_positive("maxiters", self.maxiters, integer=True)
        self.pod_ = POD(n_components=self.n_components, energy=self.energy, product=self.product).fit(snapshots)
        Z = self.pod_.transform(snapshots)
        self.mu_low_, self.mu_high_ = mu.min(axis=0), mu.max(axis=0)
        # one common scale for all coefficients: the squared loss is then the mean squared projection-norm
        # error of the reconstruction, so the dominant modes get the weight they carry
        self.z_mean_, self.z_scale_ = Z.mean(axis=0), float(np.abs(Z - Z.mean(axis=0)).max()) + 1e-300
        X = self._scale(mu)
        Y = (Z - self.z_mean_) / self.z_scale_
        if self.regressor is not None:
            self.regressor_ = clone(self.regressor).fit(X, Y)
            self.network_ = None
            self.train_history_ = {}
            self.train_retcode_ = ReturnCode.Success
            return self
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = MLP(mu.shape[1], Z.shape[1], width=self.width, depth=self.depth).double()
        prob = TrainingProblem(model=net, loss=_mse, data=(torch.from_numpy(X), torch.from_numpy(Y)), name="pod-nn")
        alg = LBFGS() if self.optimizer == "lbfgs" else Adam(lr=self.lr)
        sol = solve(prob, alg, maxiters=self.maxiters, seed=self.seed, dtype=torch.float64, progress=False)
        if sol.retcode in (ReturnCode.Diverged, ReturnCode.Failure):
            from sklearn.exceptions import ConvergenceWarning

            warnings.warn(
                f"PODNN: training the network ended with {sol.retcode.name}; the last good network is "
                "kept (see train_retcode_ and train_history_; try optimizer='adam' with a smaller lr)",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.network_ = sol.u.eval()
        self.regressor_ = None
        self.train_history_ = sol.history
        self.train_retcode_ = sol.retcode
        return self

    def _scale(self, mu: np.ndarray) -> np.ndarray:
        span = np.where(self.mu_high_ > self.mu_low_, self.mu_high_ - self.mu_low_, 1.0)
        return 2.0 * (mu - self.mu_low_) / span - 1.0

    def predict_coefficients(self, mu: np.ndarray) -> np.ndarray:
        """POD coefficients predicted at the parameters ``mu`` (n, p)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "pod_")
        mu = validate_X(self, mu, reset=False, name="mu")
        X = self._scale(mu)
        if self.network_ is None:
            Y = np.asarray(self.regressor_.predict(X)).reshape(len(X), -1)
        else:
            with torch.no_grad():
                Y = self.network_(torch.from_numpy(X)).numpy()
        return Y * self.z_scale_ + self.z_mean_

    def predict(self, mu: np.ndarray) -> np.ndarray:
        """Predicted snapshots (n, N) (``(n,)`` when fitted to 1-D snapshots)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "pod_")
        out = self.pod_.inverse_transform(self.predict_coefficients(mu))
        return out[:, 0] if self._1d_output else out

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.target_tags.multi_output = True
        return tags

    # reduced-model interface ---------------------------------------------------------------------------
    @property
    def basis_size(self) -> int:
        """Number of POD modes (the size of the reduced coefficients)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "pod_")
        return self.pod_.n_components_

    def solve(self, mu: Sequence[float] | np.ndarray) -> np.ndarray:
        """Reduced coefficients at one parameter (the reduced-model interface)."""
        mu = np.asarray(mu, dtype=np.float64)
        if mu.ndim != 1:
            raise ValueError(f"mu must be one parameter of shape ({self.n_features_in_},), got shape {mu.shape}")
        return self.predict_coefficients(mu[None, :])[0]

    def reconstruct(self, u_r: np.ndarray) -> np.ndarray:
        """The snapshot ``u_r @ components_`` from reduced coefficients (``basis_size``,) or (n, ``basis_size``)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "pod_")
        u_r = np.asarray(u_r, dtype=np.float64)
        if u_r.ndim not in (1, 2) or u_r.shape[-1] != self.pod_.n_components_:
            raise ValueError(
                f"u_r must have shape ({self.pod_.n_components_},) or (n, {self.pod_.n_components_}), got {u_r.shape}"
            )
        return u_r @ self.pod_.components_
