"""Native layers against escnn (where the extra is installed), escnn's basis cache, export, and the missing extra."""

import importlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from remodel_equivariant import GCNN, PlanarGroup, SteerableCNN, check_equivariance

escnn = pytest.importorskip("escnn", reason="escnn is the optional extra remodel-equivariant[escnn]")


@pytest.mark.parametrize("flips", [False, True])
def test_group_action_on_regular_fields_matches_escnn(flips):
    from remodel_equivariant._escnn import escnn_modules

    gspaces, enn = escnn_modules()
    gspace = gspaces.flipRot2dOnR2(N=4) if flips else gspaces.rot2dOnR2(N=4)
    ours = PlanarGroup(4, flips=flips)
    field = enn.FieldType(gspace, 2 * [gspace.regular_repr])
    x = torch.randn(1, 2 * ours.order, 7, 7, dtype=torch.float64)
    # escnn lists the elements as r^k (and then r^k f): the same indices as ours
    for index, element in enumerate(gspace.fibergroup.elements):
        theirs = enn.GeometricTensor(x, field).transform(element).tensor
        mine = ours.act_on_regular(index, x.reshape(1, 2, ours.order, 7, 7)).reshape_as(x)
        assert torch.allclose(mine, theirs, atol=1e-14), (index, str(element))


def test_native_and_escnn_feature_fields_transform_alike():
    # both networks' regular feature fields obey escnn's transformation law for the same elements
    from remodel_equivariant._escnn import escnn_modules

    gspaces, enn = escnn_modules()
    gspace = gspaces.rot2dOnR2(N=4)
    torch.manual_seed(0)
    native = GCNN("C4", hidden=(2,), kernel_size=5).features.eval()
    steer = SteerableCNN(N=4, hidden=(2,), kernel_size=5, pool=False).eval()
    x = torch.randn(1, 1, 11, 11)
    field = enn.FieldType(gspace, 2 * [gspace.regular_repr])
    for k, element in enumerate(gspace.fibergroup.elements):
        xr = torch.rot90(x, k, (-2, -1))
        y = native(x).reshape(1, 8, 11, 11)
        expected = enn.GeometricTensor(y, field).transform(element).tensor
        assert torch.allclose(native(xr).reshape(1, 8, 11, 11), expected, atol=1e-5)
        y_s = steer.blocks[0](enn.GeometricTensor(x, steer.in_type)).tensor
        expected_s = enn.GeometricTensor(y_s, field).transform(element).tensor
        got_s = steer.blocks[0](enn.GeometricTensor(xr, steer.in_type)).tensor
        assert torch.allclose(got_s, expected_s, atol=1e-5)


def test_steerable_cnn_exports_to_plain_torch():
    torch.manual_seed(1)
    model = SteerableCNN(N=8, hidden=(2, 2), out_features=3, kernel_size=5, batch_norm=True, downsample=True).eval()
    x = torch.randn(2, 1, 15, 15)
    plain = model.export()
    assert torch.allclose(plain(x), model(x), atol=1e-5)
    assert check_equivariance(plain, "C8", x) < 1e-5
    buf = io.BytesIO()
    torch.save(plain, buf)
    buf.seek(0)
    assert torch.equal(torch.load(buf, weights_only=False)(x), plain(x))
    assert not any("escnn" in type(m).__module__ for m in plain.modules())


def test_escnn_basis_cache_lives_in_the_user_cache_dir_and_is_reused(tmp_path):
    code = (
        "from remodel_equivariant import SteerableCNN; "
        "SteerableCNN(N=2, flips=True, hidden=(1,), out_features=2, kernel_size=3)"
    )
    env = {**os.environ, "REMODEL_CACHE_DIR": str(tmp_path), "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    files = {p: p.stat().st_mtime_ns for p in (tmp_path / "escnn").rglob("*") if p.is_file()}
    assert any(p.name == "output.pkl" for p in files), "escnn wrote no memoised result into the user cache"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    again = {p: p.stat().st_mtime_ns for p in (tmp_path / "escnn").rglob("*") if p.is_file() and p.name == "output.pkl"}
    # the second, fresh process found every result: nothing recomputed or rewritten
    assert again == {p: t for p, t in files.items() if p.name == "output.pkl"}


def test_missing_extra_gives_an_install_hint(monkeypatch):
    from remodel_equivariant import _escnn

    real = importlib.import_module

    def fake(name, *args):
        if name.startswith("escnn"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real(name, *args)

    monkeypatch.setattr(_escnn.importlib, "import_module", fake)
    with pytest.raises(ImportError, match=r"remodel-equivariant\[escnn\]"):
        SteerableCNN(N=4, hidden=(1,))
    assert Path(_escnn.cache_dir()).name == "escnn"


def test_escnn_ring_widths_span_exactly_escnns_kernel_space():
    # every filter of escnn's C8 basis (lifting and regular -> regular, kernel 5) lies in the span of the native
    # smooth basis with widths="escnn"; the default uniform rings leave part of it outside
    from remodel_equivariant._escnn import escnn_modules

    gspaces, enn = escnn_modules()
    gs = gspaces.rot2dOnR2(N=8)
    trivial, regular = enn.FieldType(gs, [gs.trivial_repr]), enn.FieldType(gs, [gs.regular_repr])
    filters = []
    for a, b in ((trivial, regular), (regular, regular)):
        conv = enn.R2Conv(a, b, kernel_size=5)
        for i in range(conv.weights.numel()):
            with torch.no_grad():
                conv.weights.zero_()
                conv.weights[i] = 1.0
            f = conv.expand_parameters()[0].detach().double().reshape(-1, 25)
            filters += [v for v in f if v.norm() > 1e-6 * f.norm()]
    F = torch.stack(filters).T  # [25, n]
    for widths, low, high in (("escnn", 0.0, 1e-6), ("uniform", 0.1, 1.0)):
        q, _ = torch.linalg.qr(PlanarGroup(8).smooth_kernel_basis(5, widths=widths)[0])
        worst = float(((F - q @ (q.T @ F)).norm(dim=0) / F.norm(dim=0)).max())
        assert low <= worst <= high, (widths, worst)
    model = GCNN("C8", hidden=(4, 8, 8), kernel_size=5, basis="escnn", group_bandwidth=None)
    assert sum(p.numel() for p in model.parameters()) == 8642  # escnn's C8 SteerableCNN of the bench
