"""Level hierarchies: transfer operators, coarse networks, first-order coherence, bad input."""

from __future__ import annotations

import pytest
import torch
from remodel_core.nn import MLP, ResNetMLP
from remodel_core.optim import CollocationHierarchy, LayerHierarchy, coherent_model
from remodel_core.optim._levels import _flat
from torch import nn


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """All tests here run on one intra-op thread (the root conftest.py)."""


def _net(depth: int = 8, width: int = 5, seed: int = 0) -> ResNetMLP:
    torch.manual_seed(seed)
    return ResNetMLP(2, 3, width=width, depth=depth).double()


def _closure(net: nn.Module, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(40, 2, generator=g, dtype=torch.float64)
    y = torch.randn(40, 3, generator=g, dtype=torch.float64)

    def closure() -> torch.Tensor:
        for p in net.parameters():
            p.grad = None
        loss = (net(x) - y).pow(2).mean()
        loss.backward()
        return loss

    return closure, x, y


def test_sizes_costs_and_shapes():
    net = _net(depth=8, width=5)
    H = LayerHierarchy(net, levels=4)
    shared = (2 * 5 + 5) + (5 * 3 + 3)
    block = 5 * 5 + 5
    assert [H.size(level) for level in range(4)] == [shared + d * block for d in (8, 4, 2, 1)]
    assert [H.depth_at(level) for level in range(4)] == [8, 4, 2, 1]
    assert H.cost(0) == 1.0 and H.cost(3) == pytest.approx(H.size(3) / H.size(0))
    x = H.get_fine()
    assert x.dtype == torch.float64 and x.numel() == sum(p.numel() for p in net.parameters())
    for level in range(3):
        xc = H.restrict(level, torch.randn(H.size(level), dtype=torch.float64))
        assert xc.shape == (H.size(level + 1),)
        assert H.prolongate(level, xc).shape == (H.size(level),)
        assert H.restrict_gradient(level, torch.randn(H.size(level), dtype=torch.float64)).shape == xc.shape


@pytest.mark.parametrize(
    ("restriction", "prolongation", "exact"),
    [
        ("average", "constant", True),
        ("inject", "constant", True),
        ("inject", "linear", True),
        ("average", "linear", False),
    ],
)
def test_restriction_is_right_inverse_of_prolongation(restriction, prolongation, exact):
    H = LayerHierarchy(_net(), levels=3, restriction=restriction, prolongation=prolongation)
    for level in range(2):
        e = torch.randn(H.size(level + 1), dtype=torch.float64)
        RPe = H.restrict(level, H.prolongate(level, e))
        assert torch.allclose(RPe, e, atol=1e-15) == exact


@pytest.mark.parametrize("prolongation", ["constant", "linear"])
def test_gradient_restriction_is_the_adjoint_and_weights_bound_the_fine_norm(prolongation):
    H = LayerHierarchy(_net(), levels=4, prolongation=prolongation)
    gen = torch.Generator().manual_seed(3)
    for level in range(3):
        e = torch.randn(H.size(level + 1), generator=gen, dtype=torch.float64)
        g = torch.randn(H.size(level), generator=gen, dtype=torch.float64)
        assert float(H.prolongate(level, e).dot(g)) == pytest.approx(
            float(e.dot(H.restrict_gradient(level, g))), rel=1e-13
        )
    for level in range(1, 4):
        e = torch.randn(H.size(level), generator=gen, dtype=torch.float64)
        fine = e
        for k in range(level - 1, -1, -1):
            fine = H.prolongate(k, fine)
        weighted = float((H.weights(level) * e * e).sum())
        if prolongation == "constant":
            assert float(fine.dot(fine)) == pytest.approx(weighted, rel=1e-13)
        else:
            assert float(fine.dot(fine)) <= weighted * (1 + 1e-13)


@pytest.mark.parametrize("level", [1, 2])
def test_coarse_level_is_the_coarse_resnet(level):
    """Level l evaluates exactly the ResNet of depth/2**l with step 2**l h on the kept blocks' parameters."""
    net = _net(depth=8)
    H = LayerHierarchy(net, levels=3)
    closure, x, y = _closure(net)
    xc = torch.randn(H.size(level), generator=torch.Generator().manual_seed(5), dtype=torch.float64) * 0.3
    before = _flat(list(net.parameters()))
    f, g = H.evaluate(level, xc, closure)
    # the model is unchanged afterwards: parameters, blocks and steps
    assert torch.equal(_flat(list(net.parameters())), before)
    assert len(net.blocks) == 8 and all(b.h == 0.125 for b in net.blocks)
    # an explicit coarse network with the same parameters
    coarse = ResNetMLP(2, 3, width=5, depth=8 // 2**level).double()
    params = [
        *coarse.lift.parameters(),
        *coarse.project.parameters(),
        *[p for b in coarse.blocks for p in b.parameters()],
    ]
    with torch.no_grad():
        offset = 0
        for p in params:
            p.copy_(xc[offset : offset + p.numel()].view_as(p))
            offset += p.numel()
    loss = (coarse(x) - y).pow(2).mean()
    loss.backward()
    assert f == pytest.approx(float(loss.detach()), rel=1e-14)
    assert torch.allclose(g, _flat(params, grad=True), rtol=1e-12, atol=1e-14)
    assert H.evals == [1 if k == level else 0 for k in range(3)]


@pytest.mark.parametrize("kind", ["layers", "points"])
def test_first_order_coherence(kind):
    net = _net(depth=4)
    closure, x, y = _closure(net)
    if kind == "layers":
        H = LayerHierarchy(net, levels=2)
    else:
        H = CollocationHierarchy.from_data(
            net, lambda m, x, y: (m(x) - y).pow(2).mean(), (x, y), levels=2, generator=torch.Generator().manual_seed(0)
        )
    x0 = H.get_fine()
    f, g = H.evaluate(0, x0, closure)
    y0, fc0, gc0, psi = coherent_model(H, 0, x0, g, closure)
    # the coarse gradient at the restricted point is the restricted fine gradient
    _, grad_psi = psi(y0)
    assert torch.allclose(grad_psi, H.restrict_gradient(0, g), rtol=0, atol=1e-12)
    assert torch.allclose(gc0, H.restrict_gradient(0, g), rtol=0, atol=1e-12)
    # so coarse and fine changes agree to first order along any prolongated direction: the gap is O(t^2)
    e = torch.randn(H.size(1), generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    e /= e.norm()
    gaps = []
    for t in (1e-2, 5e-3):
        dc = psi(y0 + t * e)[0] - fc0
        df = H.evaluate(0, x0 + t * H.prolongate(0, e), closure)[0] - f
        gaps.append(abs(dc - df))
    assert gaps[0] / gaps[1] == pytest.approx(4.0, rel=0.1)


def test_collocation_levels_are_nested_subsets():
    x = torch.arange(100.0).unsqueeze(1)
    seen = []
    net = nn.Linear(1, 1)

    def loss(m, xs):
        seen.append(set(xs.squeeze(1).tolist()))
        return m(xs).pow(2).mean()

    H = CollocationHierarchy.from_data(net, loss, (x,), levels=4, factor=3, generator=torch.Generator().manual_seed(0))
    assert H.n_levels == 4 and [H.cost(level) for level in range(4)] == [1.0, 0.34, 0.12, 0.04]
    for level in (1, 2, 3):
        H.evaluate(level, H.get_fine(), lambda: torch.zeros(()))
    assert [len(s) for s in seen] == [34, 12, 4]
    assert seen[2] < seen[1] < seen[0]
    xv = torch.randn(2, dtype=torch.float64)
    assert torch.equal(H.restrict(0, xv), xv) and torch.equal(H.prolongate(0, xv), xv)
    assert torch.equal(H.weights(2), torch.ones(2, dtype=torch.float64))


def test_bad_configurations():
    with pytest.raises(ValueError, match="levels must be >= 1"):
        LayerHierarchy(_net(), levels=0)
    with pytest.raises(TypeError, match="levels must be an integer"):
        LayerHierarchy(_net(), levels=2.0)
    with pytest.raises(ValueError, match="not divisible by 2"):
        LayerHierarchy(_net(depth=6), levels=3)
    with pytest.raises(TypeError, match="residual network"):
        LayerHierarchy(MLP(2, 1), levels=2)
    with pytest.raises(ValueError, match="restriction"):
        LayerHierarchy(_net(), levels=2, restriction="mean")
    with pytest.raises(ValueError, match="prolongation"):
        LayerHierarchy(_net(), levels=2, prolongation="cubic")
    H = LayerHierarchy(_net(), levels=2)
    with pytest.raises(ValueError, match="level must be in"):
        H.restrict(1, H.get_fine())
    with pytest.raises(ValueError, match="entries"):
        H.evaluate(1, H.get_fine(), lambda: torch.zeros(()))
    x = torch.zeros(10, 1)
    with pytest.raises(ValueError, match="factor"):
        CollocationHierarchy.from_data(nn.Linear(1, 1), lambda m, x: m(x).sum(), (x,), levels=2, factor=1)
    with pytest.raises(ValueError, match="use fewer levels"):
        CollocationHierarchy.from_data(nn.Linear(1, 1), lambda m, x: m(x).sum(), (x,), levels=6, min_points=2)
    with pytest.raises(TypeError, match="needs data"):
        CollocationHierarchy.from_data(nn.Linear(1, 1), lambda m, x: m(x).sum(), None, levels=2)
