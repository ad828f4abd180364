"""Launching: ``remodel train`` with two "nodes" on this machine through torchrun's c10d rendezvous, and the
command's checks of its arguments."""

from __future__ import annotations

import importlib.util
import json
import pathlib
import subprocess
import sys

import pytest
from remodel_core import solve
from remodel_core.cli import app
from remodel_core.distributed import DistributedASPQN, load_config, torchrun_command
from typer.testing import CliRunner

_spec = importlib.util.spec_from_file_location(
    "_distributed_problem", pathlib.Path(__file__).with_name("_distributed_problem.py")
)
_helpers = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("_distributed_problem", _helpers)
_spec.loader.exec_module(_helpers)

_CONFIG = (
    _helpers.PROBLEM
    + """
from remodel_core.distributed import DistributedASPQN

torch.set_num_threads(1)
problem = make
algorithm = DistributedASPQN(subdomains=2, shards=2)
options = {"maxiters": 4}
timeout = 30
"""
)


@pytest.mark.slow  # six processes (2 launchers, 2 agents, 2 workers): 58-150 s at load 13-19 on two cores
def test_two_nodes_through_c10d_rendezvous_on_localhost(tmp_path):
    cfg = tmp_path / "cfg.py"
    cfg.write_text(_CONFIG)
    endpoint = f"127.0.0.1:{_helpers.free_port()}"
    remodel = [sys.executable, "-c", "from remodel_core.cli import app; app()"]
    outs = [tmp_path / f"node{k}.json" for k in range(2)]
    nodes = [
        subprocess.Popen(
            [
                *remodel,
                "train",
                str(cfg),
                "--nproc",
                "1",
                "--nnodes",
                "2",
                "--rdzv-endpoint",
                endpoint,
                "--rdzv-id",
                "test",
                "--json",
                str(out),
            ],
            env=_helpers.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for out in outs
    ]
    try:
        done = [(n.communicate(timeout=300), n.returncode) for n in nodes]  # a hang guard on a loaded machine
    finally:
        for n in nodes:
            if n.poll() is None:
                n.kill()
    for (_, err), rc in done:
        assert rc == 0, err[-3000:]
    written = [json.loads(o.read_text()) for o in outs if o.exists()]
    assert len(written) == 1  # global rank 0 lives on one of the two nodes
    summary = written[0]
    assert summary["ranks"] == 2 and summary["iterations"] == 4 and summary["retcode"] == "MaxIters"
    single = solve(_helpers.make(), DistributedASPQN(subdomains=2, shards=2), maxiters=4)
    assert summary["loss"] == pytest.approx(single.history["loss"][-1], rel=1e-12, abs=0)
    assert summary["stats"]["local_evals"] < single.stats["local_evals"]  # rank 0 solved one subdomain of two


def test_train_command_checks_its_arguments(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["train", str(tmp_path / "missing.py")])
    assert res.exit_code == 2 and "CONFIG" in res.output
    cfg = tmp_path / "cfg.py"
    cfg.write_text(_CONFIG)
    res = runner.invoke(app, ["train", str(cfg), "--nnodes", "2"])
    assert res.exit_code == 2 and "--rdzv-endpoint" in res.output
    res = runner.invoke(app, ["train", str(cfg), "--nproc", "0"])
    assert res.exit_code == 2 and "--nproc" in res.output


def test_torchrun_command_and_config_loading(tmp_path):
    cmd = torchrun_command("c.py", nproc=2, json_out="o.json", timeout=5)
    assert cmd[1:6] == ["-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone"]
    assert cmd[-6:] == ["remodel_core.distributed", "c.py", "--json", "o.json", "--timeout", "5.0"]
    multi = torchrun_command("c.py", nnodes=2, node_rank=1, rdzv_endpoint="h:1")
    assert multi[multi.index("--rdzv-endpoint") + 1] == "h:1" and "--standalone" not in multi
    with pytest.raises(ValueError, match="rdzv_endpoint"):
        torchrun_command("c.py", nnodes=2)
    with pytest.raises(ValueError, match="nproc"):
        torchrun_command("c.py", nproc=0)
    cfg = tmp_path / "cfg.py"
    cfg.write_text(_CONFIG)
    loaded = load_config(cfg)
    assert loaded["timeout"] == 30.0 and loaded["options"] == {"maxiters": 4}
    for body, name in (
        ("algorithm = 1", "problem"),
        (_CONFIG + "\nalgorithm = 3", "algorithm"),
        (_CONFIG + "\noptions = 3", "options"),
        (_CONFIG + "\ntimeout = -1", "timeout"),
    ):
        cfg.write_text(body)
        with pytest.raises((TypeError, ValueError), match=name):
            load_config(cfg)
    with pytest.raises(FileNotFoundError, match="config"):
        load_config(tmp_path / "none.py")
