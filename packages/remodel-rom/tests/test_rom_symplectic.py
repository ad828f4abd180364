import numpy as np
import pytest
from remodel_rom import POD, CotangentLiftPOD, implicit_midpoint_linear, poisson_matrix


def _wave(n=80):
    h = 1.0 / (n + 1)
    L = (np.diag(2 * np.ones(n)) - np.diag(np.ones(n - 1), 1) - np.diag(np.ones(n - 1), -1)) / h**2 * 0.01
    K = np.block([[L, np.zeros((n, n))], [np.zeros((n, n)), np.eye(n)]])
    x = np.linspace(h, 1 - h, n)
    z0 = np.concatenate([np.exp(-200 * (x - 0.5) ** 2), np.zeros(n)])
    return K, z0


def test_cotangent_lift_is_symplectic_and_conserves_reduced_energy():
    K, z0 = _wave()
    n = len(z0) // 2
    Z = implicit_midpoint_linear(K, z0, 1e-2, 500)
    pod = CotangentLiftPOD(n_components=12).fit(Z)
    A = pod.basis_
    np.testing.assert_allclose(A.T @ poisson_matrix(n) @ A, poisson_matrix(12), atol=1e-12)
    Kr = pod.reduce_linear(K)
    zr = implicit_midpoint_linear(Kr, pod.transform(z0[None, :])[0], 1e-2, 2000)  # 4x longer than training
    energy = 0.5 * np.einsum("ti,ij,tj->t", zr, Kr, zr)
    assert np.ptp(energy) <= 1e-10 * energy[0]
    rec = pod.inverse_transform(zr[:501])
    assert np.linalg.norm(rec - Z) / np.linalg.norm(Z) < 5e-2


def test_plain_pod_galerkin_is_not_hamiltonian():
    # the Peng & Mohseni comparison: a POD basis of the (q, p) states gives a reduced operator V^T J K V
    # that is not Hamiltonian, so its energy is not conserved; the cotangent lift's is.
    K, z0 = _wave()
    n = len(z0) // 2
    Z = implicit_midpoint_linear(K, z0, 1e-2, 500)
    V = POD(n_components=24).fit(Z).components_.T
    Lr = V.T @ poisson_matrix(n) @ K @ V
    step = np.linalg.solve(np.eye(24) - 0.005 * Lr, np.eye(24) + 0.005 * Lr)
    z = V.T @ z0
    e0 = 0.5 * (V @ z) @ K @ (V @ z)
    drift = 0.0
    for _ in range(2000):
        z = step @ z
        drift = max(drift, abs(0.5 * (V @ z) @ K @ (V @ z) - e0) / e0)
    assert drift > 1e-6


def test_bad_inputs():
    with pytest.raises(ValueError, match="even number of features"):
        CotangentLiftPOD(n_components=1).fit(np.ones((4, 5)))
    with pytest.raises(ValueError, match="n_components must be an integer"):
        CotangentLiftPOD(n_components=9).fit(np.ones((4, 6)))


def test_implicit_midpoint_linear_and_poisson_matrix_refuse_bad_input():
    """Before: raw matmul/IndexError messages, and ``dt=nan`` returned a NaN trajectory."""
    with pytest.raises(ValueError, match="K must"):
        implicit_midpoint_linear(np.eye(3), np.ones(2), 0.1, 3)
    with pytest.raises(ValueError, match="z0 must"):
        implicit_midpoint_linear(np.eye(3), np.ones(3), 0.1, 3)
    with pytest.raises(ValueError, match="dt must"):
        implicit_midpoint_linear(np.eye(2), np.ones(2), float("nan"), 3)
    with pytest.raises(ValueError, match="dt must"):
        implicit_midpoint_linear(np.eye(2), np.ones(2), float("inf"), 3)
    with pytest.raises(ValueError, match="n_steps must"):
        implicit_midpoint_linear(np.eye(2), np.ones(2), 0.1, -1)
    with pytest.raises(ValueError, match="n must"):
        poisson_matrix(0)
    assert implicit_midpoint_linear(np.eye(2), np.ones(2), 0.1, 0).shape == (1, 2)
