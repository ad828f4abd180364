"""Quality of generated digits: a classifier trained on real digits, its accuracy on class-conditional
samples, and the Fréchet distance in its feature space (the FID of Heusel et al. 2017 with a small
in-package network instead of Inception, which would need a download)."""

from __future__ import annotations

import numpy as np
import torch
from remodel_core import TrainingProblem, solve
from remodel_core.optim import Adam
from torch import nn

from ._checks import check_positive_int


class DigitClassifier(nn.Module):
    """A small CNN for ``[n, 1, 16, 16]`` digit images: two conv-ReLU-maxpool blocks (16, 32 channels),
    a 64-unit feature layer (the space of :func:`frechet_distance`) and a linear read-out to 10 classes.

    Parameters
    ----------
    num_classes : int, default 10
        Number of classes of the read-out.
    size : int, default 16
        Side of the square input images; the two 2x2 poolings reduce it to ``size // 4``.

    Examples
    --------
    >>> clf = DigitClassifier()
    >>> clf(torch.zeros(2, 1, 16, 16)).shape, clf.features(torch.zeros(2, 1, 16, 16)).shape
    (torch.Size([2, 10]), torch.Size([2, 64]))
    """

    def __init__(self, num_classes: int = 10, size: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * (size // 4) ** 2, 64),
            nn.ReLU(),
        )
        self.head = nn.Linear(64, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 64 features of the penultimate layer."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits."""
        return self.head(self.body(x))


def train_digit_classifier(
    images: torch.Tensor, labels: torch.Tensor, *, iterations: int = 600, seed: int = 0, holdout: float = 0.2
) -> tuple[DigitClassifier, float]:
    """Train a :class:`DigitClassifier` with Adam through ``solve`` on a random ``1 - holdout`` share of
    ``(images, labels)``; return it with its accuracy on the held-out rest.

    Parameters
    ----------
    images : torch.Tensor
        Images ``[n, 1, H, W]`` with ``H == W``.
    labels : torch.Tensor
        Integer class labels ``[n]``.
    iterations : int, default 600
        Adam steps (minibatches of 128, learning rate 2e-3), positive.
    seed : int, default 0
        Seed of the split, the initial weights and the minibatches.
    holdout : float, default 0.2
        Share of the images held out for the accuracy, in ``[0, 1)``.

    Returns
    -------
    classifier : DigitClassifier
        The trained classifier, in eval mode.
    accuracy : float
        Its accuracy on the held-out images (NaN when ``holdout`` leaves none).

    Examples
    --------
    >>> from remodel_gen import digits
    >>> x, y = digits(16)
    >>> clf, acc = train_digit_classifier(x, y, iterations=30)  # doctest: +SKIP
    """
    check_positive_int("iterations", iterations)
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise ValueError(f"images must be a tensor [n, 1, H, W], got {getattr(images, 'shape', type(images))}")
    if not isinstance(labels, torch.Tensor) or labels.shape != images.shape[:1]:
        raise ValueError("labels must be a tensor with one label per image")
    if not 0 <= holdout < 1:
        raise ValueError(f"holdout must be in [0, 1), got {holdout!r}")
    perm = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(seed))
    n_test = int(holdout * images.shape[0])
    test, tr = perm[:n_test], perm[n_test:]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        clf = DigitClassifier(size=images.shape[-1])
    prob = TrainingProblem(
        model=clf,
        loss=lambda m, x, y: nn.functional.cross_entropy(m(x), y),
        data=(images[tr].float(), labels[tr]),
        batch_size=128,
        name="digit classifier",
    )
    clf = solve(prob, Adam(lr=2e-3), maxiters=iterations, seed=seed).u.eval()
    acc = classifier_accuracy(clf, images[test], labels[test]) if n_test else float("nan")
    return clf, acc


@torch.no_grad()
def classifier_accuracy(classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """The share of ``images`` that ``classifier`` assigns to their ``labels``.

    Parameters
    ----------
    classifier : torch.nn.Module
        Maps images to class logits ``[n, num_classes]``.
    images : torch.Tensor
        Images ``[n, 1, H, W]`` (converted to float32).
    labels : torch.Tensor
        Integer class labels ``[n]``.

    Returns
    -------
    float
        The accuracy, in ``[0, 1]``.

    Examples
    --------
    >>> classifier_accuracy(DigitClassifier(), torch.zeros(4, 1, 16, 16), torch.zeros(4, dtype=torch.long)) <= 1
    True
    """
    pred = classifier(images.float()).argmax(1)
    return float((pred == labels.to(pred.device)).double().mean())


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """The Fréchet distance between Gaussians fitted to two feature samples,
    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` (Dowson & Landau 1982; FID of Heusel et al. 2017).

    Parameters
    ----------
    a, b : torch.Tensor
        Two feature samples ``[n_a, d]`` and ``[n_b, d]``, at least two rows each.

    Returns
    -------
    float
        The Fréchet distance (computed in float64 with ``scipy.linalg.sqrtm``; the real part is kept).

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> a = torch.randn(2000, 3, generator=g, dtype=torch.float64)
    >>> round(frechet_distance(a, a + 1.0), 6)
    3.0
    """
    from scipy import linalg

    for name, x in (("a", a), ("b", b)):
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[0] < 2:
            raise ValueError(f"{name} must be a tensor of features [n, d] with n >= 2")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same feature dimension, got {a.shape[1]} and {b.shape[1]}")
    xa, xb = a.detach().double().cpu().numpy(), b.detach().double().cpu().numpy()
    for name, x in (("a", xa), ("b", xb)):
        if not np.isfinite(x).all():
            raise ValueError(f"{name} must be finite (it holds NaN or Inf)")
    mu_a, mu_b = xa.mean(0), xb.mean(0)
    sa, sb = np.atleast_2d(np.cov(xa, rowvar=False)), np.atleast_2d(np.cov(xb, rowvar=False))
    covmean = linalg.sqrtm(sa @ sb)
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(sa + sb - 2 * covmean))


@torch.no_grad()
def digit_scores(
    classifier: DigitClassifier, samples: torch.Tensor, labels: torch.Tensor, reference: torch.Tensor
) -> dict[str, float]:
    """Accuracy of ``classifier`` on class-conditional ``samples`` (asked for ``labels``) and the Fréchet
    distance of their features to those of ``reference`` (real digits).

    Parameters
    ----------
    classifier : DigitClassifier
        A classifier trained on real digits (:func:`train_digit_classifier`).
    samples : torch.Tensor
        Generated images ``[n, 1, H, W]``, clamped to ``[-1, 1]``.
    labels : torch.Tensor
        The classes the samples were generated for, ``[n]``.
    reference : torch.Tensor
        Real images ``[m, 1, H, W]``, ``m >= 2``.

    Returns
    -------
    dict
        ``{"accuracy": float, "fd": float}``: the classifier's accuracy on ``samples`` and the Fréchet distance
        of the 64 features.

    Examples
    --------
    >>> clf = DigitClassifier()
    >>> s = digit_scores(clf, torch.zeros(5, 1, 16, 16), torch.zeros(5, dtype=torch.long),
    ...                  torch.randn(5, 1, 16, 16))
    >>> sorted(s)
    ['accuracy', 'fd']
    """
    samples = samples.float().clamp(-1, 1)
    return {
        "accuracy": classifier_accuracy(classifier, samples, labels),
        "fd": frechet_distance(classifier.features(samples), classifier.features(reference.float())),
    }
