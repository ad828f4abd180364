import numpy as np
import pytest
from remodel_sampling import (
    weighted_choice,
    weighted_choice_reference,
    weighted_draw,
    weighted_draw_reference,
)
from scipy import stats


@pytest.mark.parametrize("n", [1, 7, 500])
def test_numba_choice_equals_numpy_reference(n):
    rng = np.random.default_rng(0)
    w = rng.random(20_000) ** 3
    w[::7] = 0.0  # zero weights are never chosen
    for seed in range(3):
        a, b = weighted_choice(w, n, rng=seed), weighted_choice_reference(w, n, rng=seed)
        assert np.array_equal(a, b)
        assert len(set(a.tolist())) == n and (w[a] > 0).all()
    d = weighted_draw(w, 3000, rng=1)
    assert np.array_equal(d, weighted_draw_reference(w, 3000, rng=1))


def test_chi_square_first_pick_and_with_replacement_follow_the_weights():
    # the first pick of the exponential-key method and the inverse-CDF draw both have law p = w / sum(w)
    w = np.array([1.0, 2.0, 3.0, 4.0, 0.5, 6.0, 0.0, 2.5])
    p = w / w.sum()
    trials = 20_000
    rng = np.random.default_rng(12345)
    first = np.array([weighted_choice(w, 1, rng=rng)[0] for _ in range(trials)])
    for counts in (
        np.bincount(first, minlength=w.size),
        np.bincount(weighted_draw(w, trials, rng=7), minlength=w.size),
    ):
        assert counts[6] == 0
        keep = p > 0
        chi2, pvalue = stats.chisquare(counts[keep], trials * p[keep])
        assert pvalue > 1e-3, (chi2, counts)


def test_without_replacement_second_pick_follows_sequential_law():
    # P(second = j | first = i) = w_j / (W - w_i): check the pair law on a small set
    w = np.array([1.0, 2.0, 5.0])
    rng = np.random.default_rng(3)
    pairs = np.array([weighted_choice(w, 2, rng=rng) for _ in range(15_000)])
    W = w.sum()
    expected = {(i, j): w[i] / W * w[j] / (W - w[i]) for i in range(3) for j in range(3) if i != j}
    observed = np.array([np.mean((pairs[:, 0] == i) & (pairs[:, 1] == j)) for (i, j) in expected])
    _, pvalue = stats.chisquare(observed * len(pairs), np.array(list(expected.values())) * len(pairs))
    assert pvalue > 1e-3
