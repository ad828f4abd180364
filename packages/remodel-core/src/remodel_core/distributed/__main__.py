"""``python -m remodel_core.distributed CONFIG [--json OUT] [--timeout S]``: run on every torchrun rank."""

from __future__ import annotations

import argparse
import os
import sys

from ._health import RankLostError
from ._launch import run_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m remodel_core.distributed", description=__doc__)
    parser.add_argument("config", help="a Python file defining problem, algorithm and optionally options, timeout")
    parser.add_argument("--json", default=None, help="rank 0 writes a JSON summary here")
    parser.add_argument("--timeout", type=float, default=None, help="collective timeout in seconds (default 60)")
    args = parser.parse_args(argv)
    try:
        run_config(args.config, json_out=args.json, timeout=args.timeout)
    except RankLostError as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        # the process group cannot be torn down cleanly without the lost peer: leave at once (torchrun's
        # agent then stops the remaining workers)
        os._exit(3)
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()  # no rank tears gloo down while another still uses it
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
