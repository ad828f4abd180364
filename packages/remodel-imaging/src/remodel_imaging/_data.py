"""Images bundled with scikit-image (no download), random training patches and augmentations."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ._checks import check_positive_ints

#: Images of ``skimage.data`` that ship inside the wheel (no download), usable for training.
TRAINING_IMAGES: tuple[str, ...] = (
    "brick",
    "cell",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "immunohistochemistry",
    "moon",
    "page",
    "retina",
    "rocket",
    "text",
)
#: Held out from training: the benchmark's test image and the validation image used to choose parameters.
HELD_OUT: tuple[str, ...] = ("camera", "astronaut")


def _check_size(size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or not 4 <= size <= 512:
        raise ValueError(f"size must be an integer in [4, 512], got {size!r}")


def load_image(name: str, size: int | None = None) -> torch.Tensor:
    """A grey-level image of ``skimage.data`` (bundled), float64 in [0, 1], optionally resized (anti-aliased)
    so that its shorter side is ``size`` and centre-cropped to ``size x size``.

    Parameters
    ----------
    name : str
        One of :data:`HELD_OUT` or :data:`TRAINING_IMAGES`.
    size : int, optional
        Side of the square output; ``None`` keeps the original image.

    Examples
    --------
    >>> load_image("coins", 32).shape
    torch.Size([32, 32])
    """
    names = (*HELD_OUT, *TRAINING_IMAGES)
    if name not in names:
        raise ValueError(f"name must be one of {names}, got {name!r}")
    if size is not None:
        _check_size(size)
    from skimage import color, data, transform, util

    img = getattr(data, name)()
    if img.ndim == 3:
        img = color.rgb2gray(img[..., :3])
    img = util.img_as_float64(img)
    if size is not None:
        h, w = img.shape
        s = size / min(h, w)
        if s != 1.0:
            img = transform.resize(img, (max(size, round(h * s)), max(size, round(w * s))), anti_aliasing=s < 1)
        h, w = img.shape
        top, left = (h - size) // 2, (w - size) // 2
        img = img[top : top + size, left : left + size]
    return torch.from_numpy(img.clip(0.0, 1.0).copy())


def camera(size: int = 128) -> torch.Tensor:
    """The ``cameraman`` image of ``skimage.data`` (bundled), anti-aliased to ``size x size``, float64 in [0, 1].

    Parameters
    ----------
    size : int, default 128
        Side of the square result in pixels (the 512 x 512 original is resized, then centre-cropped).

    Returns
    -------
    torch.Tensor
        float64 image ``[size, size]`` with values in ``[0, 1]``.

    Examples
    --------
    >>> x = camera(32)
    >>> x.shape, x.dtype, bool(0 <= x.min() and x.max() <= 1)
    (torch.Size([32, 32]), torch.float64, True)
    """
    _check_size(size)
    return load_image("camera", size)


def augment(patches: torch.Tensor, *, seed: int = 0) -> torch.Tensor:
    """The eight flips/rotations of the dihedral group applied at random, one per patch ``(n, H, W)``.

    Parameters
    ----------
    patches : torch.Tensor
        Square patches ``(n, S, S)``.
    seed : int, default 0
        Seed of the random choice of the transformation of each patch.

    Returns
    -------
    torch.Tensor
        A new tensor ``(n, S, S)``: each patch rotated by a multiple of 90 degrees, possibly flipped.

    Examples
    --------
    >>> p = torch.arange(8.0).reshape(2, 2, 2)
    >>> augment(p).shape
    torch.Size([2, 2, 2])
    """
    if not isinstance(patches, torch.Tensor) or patches.dim() != 3 or patches.shape[-1] != patches.shape[-2]:
        raise ValueError(f"patches must be a tensor (n, S, S), got {getattr(patches, 'shape', patches)!r}")
    gen = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 8, (patches.shape[0],), generator=gen)
    out = patches.clone()
    for c in range(8):
        idx = codes == c
        p = torch.rot90(patches[idx], c % 4, dims=(-2, -1))
        out[idx] = p.flip(-1) if c >= 4 else p
    return out


def random_patches(
    n: int,
    size: int,
    *,
    images: Sequence[str] = TRAINING_IMAGES,
    scale: int = 160,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """``n`` random ``size x size`` patches, shape ``(n, 1, size, size)``, from bundled images resized so that
    their shorter side is ``scale`` pixels, with random flips and rotations. The held-out images
    (:data:`HELD_OUT`) are never used.

    Parameters
    ----------
    n : int
        Number of patches (drawn evenly over the images).
    size : int
        Patch side.
    images : sequence of str
        Names in :data:`TRAINING_IMAGES`.
    scale : int
        Shorter side the images are resized to (the benchmark's 128-pixel cameraman is the 512-pixel one / 4).
    seed : int
        Seed of the positions and augmentations.

    Examples
    --------
    >>> random_patches(4, 8, images=("coins",), scale=32).shape
    torch.Size([4, 1, 8, 8])
    """
    check_positive_ints(n=n, size=size, scale=scale)
    if size > scale:
        raise ValueError(f"size must be <= scale, got size={size}, scale={scale}")
    images = tuple(images)
    if not images or any(i not in TRAINING_IMAGES for i in images):
        raise ValueError(
            f"images must be a non-empty selection of {TRAINING_IMAGES} (camera and astronaut are "
            f"held out), got {images!r}"
        )
    gen = torch.Generator().manual_seed(seed)
    loaded = [load_image(name, scale) for name in images]
    out = torch.empty(n, size, size, dtype=torch.float64)
    for k in range(n):
        img = loaded[k % len(loaded)]
        i = int(torch.randint(0, img.shape[0] - size + 1, (1,), generator=gen))
        j = int(torch.randint(0, img.shape[1] - size + 1, (1,), generator=gen))
        out[k] = img[i : i + size, j : j + size]
    return augment(out, seed=seed + 1).unsqueeze(1).to(dtype)
