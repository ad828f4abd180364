from remodel_imaging.showcase import showcase


def test_showcase_quick(tmp_path):
    section = showcase(tmp_path, quick=True)
    assert (tmp_path / section.figures[0][1]).stat().st_size > 10_000
    assert all(gain > 1.0 for gain in section.metrics.values())
    assert (tmp_path / section.figures[1][1]).stat().st_size > 10_000
    pnp = section.tables[1].rows
    assert pnp[1][4] == 1.0 and pnp[1][3] < 1e-3  # certified bound and a small fixed-point residual
