from remodel_equivariant.showcase import showcase


def test_showcase_quick(tmp_path):
    section = showcase(tmp_path, quick=True)
    assert (tmp_path / section.figures[0][1]).stat().st_size > 10_000
    m = section.metrics
    assert m["equiv_error_GCNN_C8"] < 1e-5 < m["equiv_error_plain_C4"]
    assert m["equiv_error_GCNN_D8"] < 1e-5 and m["equiv_error_PDE-G-CNN_C8"] < 1e-5
    assert m["feature_map_rotation_error"] < 1e-5
    assert m["growth_parabolic"] <= 1.0 < m["growth_plain_residual"]
    assert 0.0 <= m["acc_upright_c8"] <= 1.0 and section.headline.startswith("C8 group CNN")
