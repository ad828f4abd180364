from remodel_rom.showcase import showcase


def test_quick_showcase_writes_figures_and_reports(tmp_path):
    section = showcase(tmp_path, quick=True)
    assert len(section.figures) == 3
    for _, path in section.figures:
        assert (tmp_path / path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    m = section.metrics
    assert m["rb_max_rel_err"] < 1e-3 and m["pod_max_rel_err"] < 1e-3
    assert m["burgers_deim_rel_err"] < 1e-3
    assert m["opinf_rel_err"] < 1e-2
    assert "thermal block" in section.summary and len(section.tables) == 2
