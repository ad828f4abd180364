"""The :class:`LinearOperator` base class: a linear map between tensor spaces with its exact adjoint."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def _shape(name: str, shape: Sequence[int]) -> tuple[int, ...]:
    try:
        out = tuple(int(s) for s in shape)
    except TypeError as err:
        raise TypeError(f"{name} must be a sequence of positive integers, got {shape!r}") from err
    if not out or any(s <= 0 for s in out) or any(isinstance(s, bool) for s in shape):
        raise ValueError(f"{name} must be a non-empty sequence of positive integers, got {shape!r}")
    return out


def inner(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The real inner product ``Re sum(conj(a) * b)`` of real or complex tensors (the one adjoints refer to).

    Parameters
    ----------
    a, b : torch.Tensor
        Tensors of the same shape (or broadcastable), real or complex.

    Returns
    -------
    torch.Tensor
        A real 0-dim tensor.

    Examples
    --------
    >>> float(inner(torch.tensor([1j, 2.0]), torch.tensor([1j, 3.0])))
    7.0
    """
    if a.is_complex() or b.is_complex():
        return torch.real(torch.sum(torch.conj(a.to(torch.result_type(a, b))) * b))
    return torch.sum(a * b)


class LinearOperator:
    """A linear map ``A: R^{in_shape} -> R^{out_shape}`` (or ``C^{out_shape}``) with its exact adjoint.

    Subclasses set ``in_shape``/``out_shape`` and implement ``_apply`` and ``_adjoint`` on tensors whose
    trailing dimensions are those shapes (leading dimensions are a batch). The adjoint is taken with respect
    to the real inner product :func:`inner`, so ``<A x, y> = <x, A^* y>`` also for complex-valued ranges
    (for a real domain ``A^* y = Re(A^H y)``).

    Parameters
    ----------
    in_shape : sequence of int
        Shape of the domain, positive integers.
    out_shape : sequence of int
        Shape of the range, positive integers.

    Examples
    --------
    >>> from remodel_imaging import GaussianBlur
    >>> A = GaussianBlur((16, 16), sigma=1.0)
    >>> x, y = torch.randn(16, 16, dtype=torch.float64), torch.randn(16, 16, dtype=torch.float64)
    >>> bool(abs(inner(A(x), y) - inner(x, A.adjoint(y))) < 1e-12)
    True
    >>> round(A.norm(), 6)
    1.0
    """

    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    complex_output: bool = False
    complex_input: bool = False  # the domain is real unless set (the adjoint of a complex-valued operator)

    def __init__(self, in_shape: Sequence[int], out_shape: Sequence[int]) -> None:
        self.in_shape = _shape("in_shape", in_shape)
        self.out_shape = _shape("out_shape", out_shape)

    # to implement -------------------------------------------------------------------------------------
    def _apply(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    # public -------------------------------------------------------------------------------------------
    @staticmethod
    def _check(name: str, t: torch.Tensor, shape: tuple[int, ...]) -> None:
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if tuple(t.shape[t.dim() - len(shape) :]) != shape or t.dim() < len(shape):
            raise ValueError(f"{name} must have trailing shape {list(shape)}, got {list(t.shape)}")
        if not (t.is_floating_point() or t.is_complex()):
            # an integer image (e.g. uint8 from scikit-image) would come back rounded to integers
            raise TypeError(f"{name} must be a floating-point (or complex) tensor, got {t.dtype}")

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """``A x`` for ``x`` of (trailing) shape ``in_shape`` (real unless the domain is complex)."""
        self._check("x", x, self.in_shape)
        if x.is_complex() and not self.complex_input:
            raise TypeError(
                f"x must be real: {type(self).__name__} acts on real images (the imaginary part would be dropped)"
            )
        return self._apply(x)

    def apply_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """``A^* y`` for ``y`` of (trailing) shape ``out_shape`` (real unless the range is complex)."""
        self._check("y", y, self.out_shape)
        if y.is_complex() and not self.complex_output:
            raise TypeError(
                f"y must be real: the range of {type(self).__name__} is real (the imaginary part would be dropped)"
            )
        return self._adjoint(y)

    __call__ = apply

    def __matmul__(self, other: LinearOperator | torch.Tensor) -> LinearOperator | torch.Tensor:
        if isinstance(other, LinearOperator):
            return Composition(self, other)
        return self.apply(other)

    @property
    def adjoint(self) -> LinearOperator:
        """The adjoint operator ``A^*`` (its adjoint is ``A`` again)."""
        return Adjoint(self)

    @property
    def H(self) -> LinearOperator:  # noqa: N802 - the usual name
        """Alias of :attr:`adjoint`."""
        return self.adjoint

    def norm(self, *, iters: int = 500, tol: float = 1e-12, seed: int = 0, dtype: torch.dtype = torch.float64) -> float:
        """Operator 2-norm ``||A||`` by power iteration on ``A^* A`` (a lower bound converging from below).

        Stops when the estimate changes by less than ``tol`` (relative) or after ``iters`` iterations.
        """
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(self.in_shape, generator=gen, dtype=dtype)
        x = x / x.norm()
        est = 0.0
        for _ in range(iters):
            z = self._adjoint(self._apply(x))
            lam = float(inner(x, z))
            nz = float(z.norm())
            if nz == 0.0:
                return 0.0
            x = z / nz
            new = math.sqrt(max(lam, 0.0))
            if abs(new - est) <= tol * new:
                est = new
                break
            est = new
        return est

    def __repr__(self) -> str:
        return f"{type(self).__name__}(in_shape={self.in_shape}, out_shape={self.out_shape})"


class Adjoint(LinearOperator):
    """The adjoint ``A^*`` of a linear operator ``A`` (see :attr:`LinearOperator.adjoint`).

    Parameters
    ----------
    op : LinearOperator
        The operator ``A``; the adjoint maps its ``out_shape`` to its ``in_shape``.

    Examples
    --------
    >>> from remodel_imaging import Gradient
    >>> Gradient((4, 5)).adjoint.in_shape
    (2, 4, 5)
    """

    def __init__(self, op: LinearOperator) -> None:
        super().__init__(op.out_shape, op.in_shape)
        self.op = op
        self.complex_input, self.complex_output = op.complex_output, op.complex_input

    def _apply(self, x: torch.Tensor) -> torch.Tensor:
        return self.op._adjoint(x)

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self.op._apply(y)

    @property
    def adjoint(self) -> LinearOperator:
        return self.op


class Composition(LinearOperator):
    """The product ``A B`` (apply ``B`` first); written ``A @ B``.

    Parameters
    ----------
    a : LinearOperator
        The left factor ``A``, applied second.
    b : LinearOperator
        The right factor ``B``, applied first; ``b.out_shape`` must equal ``a.in_shape``.

    Examples
    --------
    >>> from remodel_imaging import GaussianBlur, Mask
    >>> op = Mask(torch.ones(8, 8, dtype=torch.bool)) @ GaussianBlur((8, 8), sigma=1.0)
    >>> op.in_shape, op.out_shape
    ((8, 8), (8, 8))
    """

    def __init__(self, a: LinearOperator, b: LinearOperator) -> None:
        if a.in_shape != b.out_shape:
            raise ValueError(
                f"cannot compose: left operator takes {list(a.in_shape)}, right one gives {list(b.out_shape)}"
            )
        super().__init__(b.in_shape, a.out_shape)
        self.a, self.b = a, b
        self.complex_output, self.complex_input = a.complex_output, b.complex_input

    def _apply(self, x: torch.Tensor) -> torch.Tensor:
        return self.a._apply(self.b._apply(x))

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self.b._adjoint(self.a._adjoint(y))


def cached_norm(cache: dict[int, tuple[LinearOperator, float]], op: LinearOperator) -> float:
    """``op.norm(dtype=torch.float64)`` (power iteration; exact ``max |H|`` for periodic convolutions), computed
    once per operator and kept in ``cache``.

    The cache is keyed by ``id(op)`` and holds the operator itself, so that an id reused by a new operator after
    the old one was freed cannot return the old one's norm (a stale, too small norm makes a step ``1 / ||A||^2``
    too long and the iteration diverge).

    Examples
    --------
    >>> from remodel_imaging import GaussianBlur
    >>> cache = {}
    >>> round(cached_norm(cache, GaussianBlur((8, 8), sigma=1.0)), 6), len(cache)
    (1.0, 1)
    """
    entry = cache.get(id(op))
    if not isinstance(entry, tuple) or entry[0] is not op:
        entry = (op, op.norm(dtype=torch.float64))
        cache[id(op)] = entry
    return entry[1]


def dot_test(op: LinearOperator, *, seed: int = 0, dtype: torch.dtype = torch.float64) -> float:
    """Relative error ``|<A x, y> - <x, A^* y>| / (||A x|| ||y||)`` for random ``x``, ``y`` (the adjoint test).

    Parameters
    ----------
    op : LinearOperator
        The operator to test.
    seed : int, default 0
        Seed of the random ``x`` and ``y`` (``y`` complex when the operator's output is).
    dtype : torch.dtype, default torch.float64
        The dtype of ``x`` and ``y``.

    Returns
    -------
    float
        The relative error; of the order of the rounding unit for an exact adjoint.

    Examples
    --------
    >>> from remodel_imaging import Gradient
    >>> dot_test(Gradient((8, 8))) < 1e-14
    True
    """
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(op.in_shape, generator=gen, dtype=dtype)
    y = torch.randn(op.out_shape, generator=gen, dtype=dtype)
    if op.complex_output:
        y = torch.complex(y, torch.randn(op.out_shape, generator=gen, dtype=dtype))
    ax = op.apply(x)
    lhs, rhs = float(inner(ax, y)), float(inner(x, op.apply_adjoint(y)))
    return abs(lhs - rhs) / max(float(ax.norm() * y.norm()), 1e-300)
