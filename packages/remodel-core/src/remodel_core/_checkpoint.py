"""Atomic checkpoints: written to a temporary file and renamed, loaded with ``weights_only=True``."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import torch

FORMAT = 1

__all__ = ["load_checkpoint", "save_checkpoint"]


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete the temporary files an interrupted save of ``path`` left behind (``.NAME.PID.N.tmp`` whose
    writer process is gone, and temporaries of the older ``.NAME.XXXX.tmp`` form)."""
    removed = []
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        middle = tmp.name[len(path.name) + 2 : -len(".tmp")].split(".")
        if len(middle) == 2 and middle[0].isdigit() and _pid_alive(int(middle[0])):
            continue  # a save in progress (this process's or a live one's)
        try:
            tmp.unlink()
            removed.append(tmp)
        except FileNotFoundError:
            pass
    return removed


_counter = 0


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any], *, durable: bool = True) -> None:
    """Write ``state`` to ``path`` atomically: a crash leaves either the old or the new file, never half.

    The state goes to ``.NAME.PID.N.tmp`` next to ``path`` and is renamed over it. Temporary files left by
    an interrupted earlier save (its process gone) are removed first.

    Parameters
    ----------
    path : path
        The checkpoint file.
    state : dict
        Tensors and plain Python values (loadable with ``weights_only=True``).
    durable : bool
        ``fsync`` the file before the rename, so that it survives a power loss, not only a killed process.
        Frequent checkpoints may skip it (``train`` syncs at most every few seconds and at the end).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "ck.pt"
    >>> save_checkpoint(p, {"iteration": 3})
    >>> load_checkpoint(p)["iteration"]
    3
    """
    global _counter
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    _counter += 1
    tmp = path.parent / f".{path.name}.{os.getpid()}.{_counter}.tmp"
    try:
        with open(tmp, "wb") as fh:
            torch.save({"format": FORMAT, **state}, fh)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``: no code is run).

    Parameters
    ----------
    path : path
        The checkpoint file.
    map_location : str or torch.device
        Where to load the tensors.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When the file is truncated or not a REMODEL checkpoint (the message names the file).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "ck.pt"
    >>> _ = p.write_bytes(b"not a checkpoint")
    >>> load_checkpoint(p)
    Traceback (most recent call last):
    ...
    ValueError: checkpoint '...ck.pt' is truncated or not a torch file (16 bytes, no zip directory): ...
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; its directory is at the end
        raise ValueError(
            f"checkpoint {str(path)!r} is truncated or not a torch file ({path.stat().st_size} bytes, no zip "
            "directory): was its write interrupted? Delete it or resume from another checkpoint"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"checkpoint {str(path)!r} is truncated or corrupt: {err}") from err
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"checkpoint {str(path)!r} is not a REMODEL checkpoint of format {FORMAT}")
    return state
