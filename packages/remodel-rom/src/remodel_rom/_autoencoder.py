"""Convolutional autoencoder reduced models for 1-D fields (nonlinear-manifold ROMs)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from remodel_core import TrainingProblem, check_positive, solve
from remodel_core.nn import MLP
from remodel_core.optim import LBFGS, Adam
from sklearn.base import BaseEstimator, RegressorMixin
from torch import nn

from ._pod import check_snapshots
from ._sklearn import validate_X, validate_Xy


class ConvAutoencoder(nn.Module):
    """Two strided 1-D convolutions and a dense layer down to ``latent`` numbers, mirrored back up.

    The architecture of Lee & Carlberg (2020), "Model reduction of dynamical systems on nonlinear manifolds
    using deep convolutional autoencoders" (J. Comput. Phys. 404), scaled down: ELU activations, stride-2
    convolutions with kernel 5, a linear bottleneck, transposed convolutions in the decoder.

    Parameters
    ----------
    n : int
        Length of the snapshots (divisible by 4: two stride-2 convolutions).
    latent : int
        Size of the bottleneck.
    channels : int, default 8
        Channels of the first convolution (the second has twice as many).

    Examples
    --------
    >>> ae = ConvAutoencoder(n=32, latent=3).double()
    >>> ae(torch.zeros(4, 32, dtype=torch.float64)).shape
    torch.Size([4, 32])
    """

    def __init__(self, n: int, latent: int, channels: int = 8) -> None:
        super().__init__()
        check_positive("n", n, integer=True)
        check_positive("latent", latent, integer=True)
        check_positive("channels", channels, integer=True)
        if n % 4:
            raise ValueError(f"n must be divisible by 4, got {n}")
        self.n, self.channels = n, channels
        m = 2 * channels * (n // 4)
        self.encoder = nn.Sequential(
            nn.Conv1d(1, channels, 5, stride=2, padding=2),
            nn.ELU(),
            nn.Conv1d(channels, 2 * channels, 5, stride=2, padding=2),
            nn.ELU(),
            nn.Flatten(),
            nn.Linear(m, latent),
        )
        self.decoder_dense = nn.Sequential(nn.Linear(latent, m), nn.ELU())
        self.decoder_conv = nn.Sequential(
            nn.ConvTranspose1d(2 * channels, channels, 4, stride=2, padding=1),
            nn.ELU(),
            nn.ConvTranspose1d(channels, 1, 4, stride=2, padding=1),
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.unsqueeze(1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        h = self.decoder_dense(z).view(len(z), 2 * self.channels, self.n // 4)
        return self.decoder_conv(h).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def _ae_loss(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return ((model(x) - x) ** 2).mean()


def _mse(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((model(x) - y) ** 2).mean()


class AutoencoderROM(RegressorMixin, BaseEstimator):
    """Non-intrusive nonlinear-manifold ROM: convolutional autoencoder plus a network ``mu -> latent``.

    Stage one trains :class:`ConvAutoencoder` on the snapshots (Adam through :func:`remodel_core.solve`);
    stage two fits an :class:`remodel_core.nn.MLP` from the parameters to the encoded snapshots (L-BFGS),
    as in the DL-ROM of Fresca, Dede & Manzoni (2021). ``predict(mu)`` decodes the predicted latent state.
    With a latent size of the parameter dimension the manifold can be exact where any linear space needs
    many modes (transport, moving fronts).

    Parameters
    ----------
    latent : int
    channels : int
    ae_iters, map_iters : int
        Optimizer iterations of the two stages.
    lr : float
        Adam's learning rate for the autoencoder.
    seed : int

    Attributes
    ----------
    autoencoder_ : ConvAutoencoder
    network_ : MLP
    ae_history_ : dict

    Examples
    --------
    >>> x = np.linspace(0, 1, 32)
    >>> mu = np.linspace(0.3, 0.7, 12)[:, None]
    >>> S = np.exp(-((x - mu) / 0.1) ** 2)
    >>> rom = AutoencoderROM(latent=1, ae_iters=30, map_iters=5).fit(mu, S)
    >>> rom.predict(mu).shape
    (12, 32)
    """

    def __init__(
        self,
        latent: int = 2,
        *,
        channels: int = 8,
        ae_iters: int = 500,
        map_iters: int = 100,
        lr: float = 3e-3,
        seed: int = 0,
    ) -> None:
        self.latent = latent
        self.channels = channels
        self.ae_iters = ae_iters
        self.map_iters = map_iters
        self.lr = lr
        self.seed = seed

    def fit(self, mu: np.ndarray, snapshots: np.ndarray) -> AutoencoderROM:
        """Train the autoencoder on ``snapshots`` (n_samples, N) and the map from ``mu`` (n_samples, p)."""
        for name in ("latent", "channels", "ae_iters", "map_iters"):
            check_positive(name, getattr(self, name), integer=True)
        check_positive("lr", self.lr)
        mu, S = validate_Xy(self, mu, snapshots, names=("mu", "snapshots"))
        self._1d_output = S.ndim == 1
        S = S[:, None] if self._1d_output else S
        self.n_outputs_ = S.shape[1]
        self.shift_, self.scale_ = S.mean(), S.std() + 1e-300
        X = torch.from_numpy(self._pad((S - self.shift_) / self.scale_))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            ae = ConvAutoencoder(X.shape[1], self.latent, self.channels).double()
            net = MLP(mu.shape[1], self.latent, width=32, depth=2).double()
        sol = solve(
            TrainingProblem(model=ae, loss=_ae_loss, data=(X,), name="autoencoder"),
            Adam(lr=self.lr),
            maxiters=self.ae_iters,
            seed=self.seed,
            dtype=torch.float64,
            progress=False,
        )
        self.autoencoder_ = sol.u.eval()
        self.ae_history_ = sol.history
        with torch.no_grad():
            Z = self.autoencoder_.encode(X)
        self.mu_low_, self.mu_high_ = mu.min(axis=0), mu.max(axis=0)
        self.z_mean_, self.z_scale_ = Z.mean(0), Z.std(0) + 1e-12
        M = torch.from_numpy(self._scale(mu))
        sol = solve(
            TrainingProblem(model=net, loss=_mse, data=(M, (Z - self.z_mean_) / self.z_scale_), name="latent map"),
            LBFGS(),
            maxiters=self.map_iters,
            seed=self.seed,
            dtype=torch.float64,
            progress=False,
        )
        self.network_ = sol.u.eval()
        return self

    def _pad(self, S: np.ndarray) -> np.ndarray:
        """Edge-pad the fields to a length divisible by 4 (two stride-2 convolutions); cropped after decoding."""
        extra = -S.shape[1] % 4
        return np.pad(S, ((0, 0), (0, extra)), mode="edge") if extra else S

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.target_tags.multi_output = True
        return tags

    def _scale(self, mu: np.ndarray) -> np.ndarray:
        span = np.where(self.mu_high_ > self.mu_low_, self.mu_high_ - self.mu_low_, 1.0)
        return 2.0 * (mu - self.mu_low_) / span - 1.0

    def reconstruct_snapshots(self, snapshots: np.ndarray) -> np.ndarray:
        """Encode and decode snapshots (the autoencoder's own approximation)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "autoencoder_")
        S = check_snapshots(snapshots, "snapshots", self.n_outputs_)
        with torch.no_grad():
            out = self.autoencoder_(torch.from_numpy(self._pad((S - self.shift_) / self.scale_))).numpy()
        return out[:, : self.n_outputs_] * self.scale_ + self.shift_

    def solve(self, mu: Sequence[float] | np.ndarray) -> np.ndarray:
        """Latent coordinates at one parameter."""
        return self.predict_latent(np.atleast_2d(np.asarray(mu, dtype=np.float64)))[0]

    def predict_latent(self, mu: np.ndarray) -> np.ndarray:
        """Latent coordinates predicted at the parameters ``mu`` (n, p)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "network_")
        mu = validate_X(self, mu, reset=False, name="mu")
        with torch.no_grad():
            z = self.network_(torch.from_numpy(self._scale(mu))) * self.z_scale_ + self.z_mean_
        return z.numpy()

    def reconstruct(self, z: np.ndarray) -> np.ndarray:
        """Decode latent coordinates ``z`` (latent,) or (n, latent) to the full field."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "autoencoder_")
        latent = self.autoencoder_.decoder_dense[0].in_features
        z = np.asarray(z, dtype=np.float64)
        if z.ndim not in (1, 2) or z.shape[-1] != latent or not np.all(np.isfinite(z)):
            raise ValueError(
                f"z must be finite latent coordinates of shape ({latent},) or (n, {latent}), got {z.shape}"
            )
        z = torch.from_numpy(np.atleast_2d(z))
        with torch.no_grad():
            out = self.autoencoder_.decode(z).numpy()[:, : self.n_outputs_] * self.scale_ + self.shift_
        return out[0] if out.shape[0] == 1 else out

    def predict(self, mu: np.ndarray) -> np.ndarray:
        """Predicted snapshots (n, N) (``(n,)`` when fitted to 1-D snapshots)."""
        out = np.atleast_2d(self.reconstruct(self.predict_latent(mu)))
        return out[:, 0] if self._1d_output else out
