"""Candidate-function libraries for SINDy: polynomials, Fourier modes and their concatenation.

Each library is a scikit-learn transformer: ``fit(X)`` records the input dimension, ``transform(X)`` returns
the matrix ``Theta(X)`` of candidate functions, ``get_feature_names()`` names its columns.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted


def _validate(est: BaseEstimator, x: np.ndarray, *, reset: bool) -> np.ndarray:
    """``x`` (samples, features) as finite float64 through scikit-learn's ``validate_data`` (its messages)."""
    from sklearn.utils.validation import validate_data

    try:
        return validate_data(est, x, reset=reset, dtype=np.float64, ensure_all_finite=True)
    except (ValueError, TypeError) as err:
        msg = str(err)
        raise type(err)(msg if " X" in msg or msg.startswith("X") else f"x: {msg}") from None


class _Library(TransformerMixin, BaseEstimator):
    def _input_names(self, input_features: Sequence[str] | None) -> list[str]:
        check_is_fitted(self, "n_features_in_")
        if input_features is None:
            if hasattr(self, "feature_names_in_"):  # fitted to a DataFrame: its column names
                return [str(n) for n in self.feature_names_in_]
            return [f"x{i}" for i in range(self.n_features_in_)]
        if len(input_features) != self.n_features_in_:
            raise ValueError(f"input_features must name {self.n_features_in_} inputs, got {len(input_features)}")
        return list(input_features)

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> np.ndarray:
        """Names of the output columns as scikit-learn expects them (``Pipeline``, ``set_output``).

        The names of :meth:`get_feature_names` in an object array; ``input_features`` defaults to the
        DataFrame's column names seen in ``fit``, else ``x0, x1, ...``.
        """
        names = self.get_feature_names(input_features)
        return np.asarray(names, dtype=object)

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "n_features_in_")
        return _validate(self, x, reset=False)

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.transformer_tags.preserves_dtype = ["float64"]
        tags.requires_fit = True
        return tags

    def __add__(self, other: _Library) -> ConcatLibrary:
        return ConcatLibrary([self, other])


class PolynomialLibrary(_Library):
    """All monomials of the inputs up to total degree ``degree``.

    Parameters
    ----------
    degree : int
        Highest total degree.
    include_bias : bool
        Include the constant function 1.

    Examples
    --------
    >>> lib = PolynomialLibrary(degree=2).fit(np.zeros((1, 2)))
    >>> lib.get_feature_names(["x", "y"])
    ['1', 'x', 'y', 'x^2', 'x y', 'y^2']
    """

    def __init__(self, degree: int = 2, include_bias: bool = True) -> None:
        self.degree = degree
        self.include_bias = include_bias

    def fit(self, x: np.ndarray, y: object = None) -> PolynomialLibrary:
        if isinstance(self.degree, bool) or not isinstance(self.degree, int | np.integer) or self.degree < 1:
            raise ValueError(f"degree must be a positive integer, got {self.degree!r}")
        x = _validate(self, x, reset=True)
        powers = [] if not self.include_bias else [np.zeros(self.n_features_in_, dtype=int)]
        for d in range(1, int(self.degree) + 1):
            for combo in itertools.combinations_with_replacement(range(self.n_features_in_), d):
                powers.append(np.bincount(combo, minlength=self.n_features_in_))
        self.powers_ = np.array(powers, dtype=int)
        self.n_output_features_ = len(powers)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = self._check_input(x)
        return np.prod(x[:, None, :] ** self.powers_[None, :, :], axis=2)

    def get_feature_names(self, input_features: Sequence[str] | None = None) -> list[str]:
        names = self._input_names(input_features)
        out = []
        for row in self.powers_:
            terms = [n if k == 1 else f"{n}^{k}" for n, k in zip(names, row) if k > 0]
            out.append(" ".join(terms) if terms else "1")
        return out


class FourierLibrary(_Library):
    """``sin(k x_i)`` and ``cos(k x_i)`` for every input ``x_i`` and ``k = 1 .. n_frequencies``.

    Parameters
    ----------
    n_frequencies : int, default 1
        Largest ``k``.
    include_sin, include_cos : bool, default True
        Which of the two families to include (at least one).

    Examples
    --------
    >>> lib = FourierLibrary(n_frequencies=1).fit(np.zeros((1, 1)))
    >>> lib.get_feature_names(["q"]), lib.transform(np.array([[0.0]])).tolist()
    (['sin(q)', 'cos(q)'], [[0.0, 1.0]])
    """

    def __init__(self, n_frequencies: int = 1, include_sin: bool = True, include_cos: bool = True) -> None:
        self.n_frequencies = n_frequencies
        self.include_sin = include_sin
        self.include_cos = include_cos

    def fit(self, x: np.ndarray, y: object = None) -> FourierLibrary:
        n = self.n_frequencies
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n_frequencies must be a positive integer, got {n!r}")
        if not (self.include_sin or self.include_cos):
            raise ValueError("include_sin and include_cos cannot both be False")
        _validate(self, x, reset=True)
        self.n_output_features_ = self.n_features_in_ * int(n) * (int(self.include_sin) + int(self.include_cos))
        return self

    def _terms(self) -> list[tuple[str, int, int]]:
        terms = []
        for i in range(self.n_features_in_):
            for k in range(1, int(self.n_frequencies) + 1):
                if self.include_sin:
                    terms.append(("sin", k, i))
                if self.include_cos:
                    terms.append(("cos", k, i))
        return terms

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = self._check_input(x)
        cols = [(np.sin if f == "sin" else np.cos)(k * x[:, i]) for f, k, i in self._terms()]
        return np.stack(cols, axis=1)

    def get_feature_names(self, input_features: Sequence[str] | None = None) -> list[str]:
        names = self._input_names(input_features)
        return [f"{f}({names[i]})" if k == 1 else f"{f}({k} {names[i]})" for f, k, i in self._terms()]


class ConcatLibrary(_Library):
    """The columns of several libraries side by side (also written ``lib_a + lib_b``).

    Parameters
    ----------
    libraries : sequence of libraries
        The libraries whose columns are concatenated, in order.

    Examples
    --------
    >>> lib = (PolynomialLibrary(degree=1) + FourierLibrary()).fit(np.zeros((1, 1)))
    >>> lib.get_feature_names(["q"])
    ['1', 'q', 'sin(q)', 'cos(q)']
    """

    def __init__(self, libraries: Sequence[_Library]) -> None:
        self.libraries = libraries

    def fit(self, x: np.ndarray, y: object = None) -> ConcatLibrary:
        if not self.libraries or not all(isinstance(lib, _Library) for lib in self.libraries):
            raise TypeError("libraries must be a non-empty sequence of SINDy libraries")
        x = _validate(self, x, reset=True)
        self.libraries_ = [clone(lib).fit(x) for lib in self.libraries]
        self.n_output_features_ = sum(lib.n_output_features_ for lib in self.libraries_)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = self._check_input(x)
        return np.concatenate([lib.transform(x) for lib in self.libraries_], axis=1)

    def get_feature_names(self, input_features: Sequence[str] | None = None) -> list[str]:
        names = self._input_names(input_features)
        return [n for lib in self.libraries_ for n in lib.get_feature_names(names)]
