import numpy as np
import pytest
from remodel_rom import StationaryAffineModel, assemble_mass, assemble_stiffness, thermal_block, unit_square_mesh
from remodel_rom._fem import assemble_load, assemble_stiffness_reference


def test_numba_stiffness_matches_numpy_reference():
    nodes, tris = unit_square_mesh(5)
    c = np.random.default_rng(0).uniform(0.1, 1.0, len(tris))
    K = assemble_stiffness(nodes, tris, c).toarray()
    np.testing.assert_allclose(K, assemble_stiffness_reference(nodes, tris, c), atol=1e-13)
    np.testing.assert_allclose(K, K.T, atol=1e-14)


def test_mass_and_load_integrate_exactly():
    nodes, tris = unit_square_mesh(6)
    M = assemble_mass(nodes, tris)
    one = np.ones(len(nodes))
    assert one @ (M @ one) == pytest.approx(1.0)  # area of the unit square
    assert assemble_load(nodes, tris).sum() == pytest.approx(1.0)
    # int x dx = 1/2 : mass matrix integrates products of P1 functions exactly
    assert one @ (M @ nodes[:, 0]) == pytest.approx(0.5)


def test_thermal_block_affine_sum_and_fe_convergence():
    # with all mu = 1 the thermal block is the Poisson problem -lap u = 1; compare the centre value
    # against the series solution u(1/2, 1/2) = 0.0736713532814...
    ref = 0.07367135328
    errs = []
    for n in (8, 16, 32):
        fom = thermal_block(n=n)
        u = fom.solve(np.ones(4))
        errs.append(abs(fom.field(u)[n // 2, n // 2] - ref))
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(rates > 1.8)  # second order at the nodes


def test_thermal_block_blocks_and_operator():
    fom = thermal_block(blocks=(3, 3), n=12)
    assert len(fom.operators) == 9 and fom.n_parameters == 9
    mu = np.linspace(0.1, 1.0, 9)
    A = fom.operator(mu)
    ref = sum(m * Aq for m, Aq in zip(mu, fom.operators))
    assert abs(A - ref).max() < 1e-14
    assert fom.coercivity_lower_bound(mu) == pytest.approx(0.1)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="n must be divisible"):
        thermal_block(blocks=(3, 3), n=16)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        unit_square_mesh(0)
    fom = thermal_block(n=8)
    with pytest.raises(ValueError, match="mu must have shape"):
        fom.solve([1.0, 2.0])
    with pytest.raises(ValueError, match="rhs must have shape"):
        StationaryAffineModel(fom.operators, np.ones(3), [(0.1, 1)] * 4)
    with pytest.raises(ValueError, match="theta"):
        StationaryAffineModel(fom.operators, fom.rhs, [(0.1, 1)] * 3)
