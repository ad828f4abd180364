"""The three derivative routes (nested autograd, torch.func, hand-propagated Taylor mode) agree to 1e-10."""

import pytest
import torch
from remodel_core.nn import MLP, ResNetMLP
from remodel_core.pde import burgers, derivatives, klein_gordon, taylor_supported
from remodel_core.pde._derivatives import resolve_route


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """All tests here run on one intra-op thread (the root conftest.py)."""


ROUTES = ["autograd", "func", "taylor"]


def _nets():
    torch.manual_seed(0)
    return {
        "resnet_tanh": ResNetMLP(2, 1, width=12, depth=4).double(),
        "mlp_tanh": MLP(2, 1, width=10, depth=3).double(),
        "mlp_sin": MLP(2, 1, width=10, depth=2, activation="sin").double(),
        "resnet_sin_3d": ResNetMLP(3, 1, width=6, depth=2, activation="sin").double(),
        "mlp_softplus": MLP(2, 1, width=10, depth=3, activation="softplus").double(),
        "mlp_silu": MLP(2, 1, width=10, depth=3, activation="silu").double(),
        "resnet_gelu": ResNetMLP(2, 1, width=8, depth=3, activation="gelu").double(),
        "mlp_gelu_3d": MLP(3, 1, width=8, depth=2, activation="gelu").double(),
    }


def _flat_grad(net, value):
    grads = torch.autograd.grad(value, list(net.parameters()), allow_unused=True)
    return torch.cat(
        [torch.zeros_like(p).flatten() if g is None else g.flatten() for g, p in zip(grads, net.parameters())]
    )


@pytest.mark.parametrize("name", list(_nets()))
def test_routes_agree_values_and_parameter_gradients(name):
    net = _nets()[name]
    d = 3 if "3d" in name else 2
    x = torch.rand(40, d, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    second = tuple(range(d))
    out = {r: derivatives(net, x, second=second, route=r) for r in ROUTES}
    ref = out["autograd"]
    torch.testing.assert_close(ref.u, net(x)[:, 0], atol=1e-14, rtol=0)
    grads = {}
    for r, dv in out.items():
        torch.testing.assert_close(dv.u, ref.u, atol=1e-10, rtol=0)
        torch.testing.assert_close(dv.grad, ref.grad, atol=1e-10, rtol=0)
        for i in second:
            torch.testing.assert_close(dv.dxx(i), ref.dxx(i), atol=1e-10, rtol=0)
        # a loss mixing all quantities, differentiated w.r.t. the parameters
        value = (dv.u**2 + dv.grad[:, 0] * dv.u + sum(dv.dxx(i) ** 2 for i in second)).mean()
        grads[r] = _flat_grad(net, value)
    for r in ROUTES:
        torch.testing.assert_close(grads[r], grads["autograd"], atol=1e-10, rtol=0)


def test_second_derivative_of_known_function():
    """A one-neuron net u = tanh(a x + b): check against the closed form."""
    net = MLP(1, 1, width=1, depth=1).double()
    with torch.no_grad():
        net[0].weight.fill_(1.3)
        net[0].bias.fill_(-0.2)
        net[2].weight.fill_(1.0)
        net[2].bias.fill_(0.0)
    x = torch.linspace(-1, 1, 9, dtype=torch.float64)[:, None]
    th = torch.tanh(1.3 * x[:, 0] - 0.2)
    for r in ROUTES:
        dv = derivatives(net, x, second=(0,), route=r)
        torch.testing.assert_close(dv.dx(0), 1.3 * (1 - th**2), atol=1e-14, rtol=0)
        torch.testing.assert_close(dv.dxx(0), -2 * 1.3**2 * th * (1 - th**2), atol=1e-14, rtol=0)


@pytest.mark.parametrize("make", [burgers, klein_gordon])
def test_pinn_losses_agree_across_routes(make):
    prob = make()
    torch.manual_seed(2)
    net = ResNetMLP(2, 1, width=8, depth=3).double()
    x = prob.domain.sample(64, seed=0)
    values, grads = {}, {}
    for r in ROUTES:
        train = prob.discretize(net, points=x, boundary_points=16, derivatives=r)
        value = train.loss(net, x)
        values[r], grads[r] = value, _flat_grad(net, value)
    for r in ROUTES:
        torch.testing.assert_close(values[r], values["autograd"], atol=1e-10, rtol=0)
        torch.testing.assert_close(grads[r], grads["autograd"], atol=1e-10, rtol=0)


def test_auto_route_and_unsupported_models():
    assert taylor_supported(ResNetMLP(2, 1)) and taylor_supported(MLP(2, 1, activation="sin"))
    for act in ("softplus", "silu", "gelu"):
        assert taylor_supported(MLP(2, 1, activation=act)) and taylor_supported(ResNetMLP(2, 1, activation=act))
    # activations whose derivatives the Taylor channels do not carry: GELU's tanh approximation, softplus with
    # beta 2 or a threshold other than the default 20 (above it the module is linear)
    for other in (torch.nn.GELU(approximate="tanh"), torch.nn.Softplus(beta=2.0), torch.nn.Softplus(threshold=5.0)):
        assert not taylor_supported(torch.nn.Sequential(torch.nn.Linear(2, 4), other, torch.nn.Linear(4, 1)))
    relu = MLP(2, 1, activation="relu").double()
    assert not taylor_supported(relu) and not taylor_supported(MLP(2, 2))
    assert resolve_route(ResNetMLP(2, 1), "auto") == "taylor"
    assert resolve_route(relu, "auto") == "autograd"
    with pytest.raises(ValueError, match="taylor"):
        derivatives(relu, torch.zeros(3, 2, dtype=torch.float64), route="taylor")
    with pytest.raises(ValueError, match="derivatives must be one of"):
        derivatives(relu, torch.zeros(3, 2), route="symbolic")
    with pytest.raises(ValueError, match="one output"):
        derivatives(MLP(2, 2).double(), torch.zeros(3, 2, dtype=torch.float64), route="autograd")
    # a generic module falls back to autograd and still works
    gelu = MLP(2, 1, width=5, depth=2, activation="gelu").double()
    dv = derivatives(gelu, torch.rand(4, 2, dtype=torch.float64), second=(0,))
    assert dv.dxx(0).shape == (4,)
    with pytest.raises(KeyError, match="not requested"):
        dv.dxx(1)


def test_no_create_graph_detaches():
    net = MLP(2, 1, width=4, depth=1).double()
    dv = derivatives(net, torch.rand(4, 2, dtype=torch.float64), second=(0,), route="autograd", create_graph=False)
    assert not dv.u.requires_grad and not dv.grad.requires_grad and not dv.dxx(0).requires_grad


@pytest.mark.parametrize("act", ["tanh", "sin", "softplus", "silu", "gelu"])
def test_hessian_vector_products_agree(act):
    """Double backward through every route (optimizers may use Hessian-vector products of the loss): the third
    derivative of each activation enters here."""
    torch.manual_seed(3)
    net = ResNetMLP(2, 1, width=6, depth=2, activation=act).double()
    x = torch.rand(20, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    params = list(net.parameters())
    v = [torch.randn(p.shape, dtype=p.dtype, generator=torch.Generator().manual_seed(i)) for i, p in enumerate(params)]
    hv = {}
    for r in ROUTES:
        dv = derivatives(net, x, second=(0, 1), route=r)
        value = (dv.dxx(0) ** 2 + dv.dx(1) * dv.u + dv.dxx(1) * dv.dx(0)).mean()
        grads = torch.autograd.grad(value, params, create_graph=True)
        hv[r] = torch.cat(
            [h.flatten() for h in torch.autograd.grad(sum((g * w).sum() for g, w in zip(grads, v)), params)]
        )
    for r in ROUTES:
        torch.testing.assert_close(hv[r], hv["autograd"], atol=1e-10, rtol=0)
