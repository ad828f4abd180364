from remodel_sampling.showcase import showcase


def test_showcase_quick(tmp_path):
    section = showcase(tmp_path, quick=True)
    for _, path in section.figures:
        assert (tmp_path / path).stat().st_size > 1000
    assert section.metrics["sobol_rmse_slope"] < -1.2 < -0.8 < section.metrics["mc_rmse_slope"]
    assert "| Sobol |" in section.markdown()
