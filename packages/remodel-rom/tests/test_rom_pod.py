import numpy as np
import pytest
from remodel_rom import POD, energy_rank, thermal_block


def _low_rank(rank=4, n=60, N=300, seed=0):
    rng = np.random.default_rng(seed)
    s = 10.0 ** -np.arange(rank)
    U = np.linalg.qr(rng.standard_normal((N, rank)))[0]
    W = np.linalg.qr(rng.standard_normal((n, rank)))[0]
    return (W * s) @ U.T, s


def test_energy_criterion_picks_smallest_rank():
    s = np.array([10.0, 3.0, 1.0, 0.1])
    e = np.cumsum(s**2) / np.sum(s**2)
    for r, frac in enumerate(e, start=1):
        assert energy_rank(s, frac) == r
        if r > 1:
            assert energy_rank(s, e[r - 2] + 1e-9) == r
    X, _ = _low_rank()
    pod = POD(energy=0.99).fit(X)
    kept = pod.explained_energy_ratio_
    assert kept >= 0.99
    assert np.sum(pod.singular_values_[: pod.n_components_ - 1] ** 2) / np.sum(pod.singular_values_**2) < 0.99


@pytest.mark.parametrize("method", ["exact", "randomized", "incremental"])
def test_methods_recover_low_rank_data(method):
    X, s = _low_rank()
    pod = POD(n_components=4, method=method, batch_size=13).fit(X)
    np.testing.assert_allclose(pod.singular_values_[:4], s, rtol=1e-8)
    np.testing.assert_allclose(pod.inverse_transform(pod.transform(X)), X, atol=1e-10)
    np.testing.assert_allclose(pod.components_ @ pod.components_.T, np.eye(4), atol=1e-10)


def test_product_pod_is_orthonormal_in_product_and_optimal():
    fom = thermal_block(n=8)
    S = np.array([fom.solve(mu) for mu in fom.sample(15, np.random.default_rng(1))])
    pod = POD(n_components=5, product=fom.product).fit(S)
    V = pod.components_.T
    np.testing.assert_allclose(V.T @ (fom.product @ V), np.eye(5), atol=1e-10)
    # the projection error in the product norm equals the discarded singular values (Eckart-Young)
    E = S - pod.inverse_transform(pod.transform(S))
    err2 = np.sum(E * (fom.product @ E.T).T)
    assert err2 == pytest.approx(np.sum(pod.singular_values_[5:] ** 2), rel=1e-6)


def test_mismatched_snapshot_shapes_raise():
    X, _ = _low_rank()
    pod = POD(n_components=2).fit(X)
    with pytest.raises(ValueError, match="X has 299 features, but POD is expecting 300"):
        pod.transform(X[:, :-1])
    with pytest.raises(ValueError, match="X: Expected 2D array"):
        POD().fit(np.ones(5))
    with pytest.raises(ValueError, match="Z must have shape"):
        pod.inverse_transform(np.ones((3, 5)))
    with pytest.raises(ValueError, match="NaN"):
        POD().fit(np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match="method must be one of"):
        POD(method="qr").fit(X)
    with pytest.raises(ValueError, match="product is supported"):
        POD(n_components=2, method="randomized", product=np.eye(300)).fit(X)
    with pytest.raises(ValueError, match="n_components"):
        POD(n_components=0).fit(X)


def test_pod_reduce_gives_galerkin_model_and_checks_the_model():
    fom = thermal_block(n=8)
    mus = fom.sample(12, np.random.default_rng(2))
    S = np.array([fom.solve(mu) for mu in mus])
    rom = POD(n_components=12, product=fom.product).fit(S).reduce(fom)
    # every training solution lies in the span of the 12 modes: the Galerkin solution reproduces it
    u = rom.reconstruct(rom.solve(mus[3]))
    np.testing.assert_allclose(u, S[3], rtol=1e-8, atol=1e-12)
    with pytest.raises(ValueError, match="fom must have 49 unknowns"):
        POD(n_components=2).fit(S).reduce(thermal_block(n=4))
    with pytest.raises(TypeError, match="POD.reduce projects"):
        POD(n_components=2).fit(S).reduce(type("M", (), {"n_dofs": 49})())


@pytest.mark.parametrize("method", ["exact", "randomized", "incremental"])
def test_explained_energy_ratio_is_against_all_of_the_snapshot_energy(method):
    """Before: the randomized and incremental SVDs divided by the energy of the modes they computed (1.0 for
    2 modes of white noise that hold 6 % of it)."""
    X = np.random.default_rng(0).standard_normal((60, 300))
    pod = POD(n_components=2, method=method).fit(X)
    captured = 1.0 - np.sum((X - pod.inverse_transform(pod.transform(X))) ** 2) / np.sum(X**2)
    assert pod.explained_energy_ratio_ < 0.1
    assert abs(pod.explained_energy_ratio_ - captured) < 1e-3
