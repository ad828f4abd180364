from remodel_equivariant.showcase import showcase


def test_showcase_quick(tmp_path):
    section = showcase(tmp_path, quick=True)
    assert (tmp_path / section.figures[0][1]).stat().st_size > 10_000
    m = section.metrics
    assert m["rot_error_steerable_C4"] < 1e-5 < m["rot_error_plain_CNN"]
    assert m["growth_parabolic"] <= 1.0 < m["growth_plain_residual"]
