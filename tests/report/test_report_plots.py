"""Plots drawn from a table built here (T3 has no fixture run yet): each plot is drawn when
its table is there and listed as not drawn when it is not."""

from test_report_claims import run_of, table

from fastdrop.report.plots import PLOTS, draw_all


def test_gap_vs_size_from_t3(tmp_path):
    rows = [({"train_size": n, "dropout": p}, {"gap": [g, g + 0.02, g - 0.02],
                                               "test_accuracy": [a, a + 0.01, a - 0.01]})
            for n, p, g, a in ((500, 0.0, 0.5, 0.5), (500, 0.3, 0.3, 0.55),
                               (4000, 0.0, 0.2, 0.8), (4000, 0.3, 0.1, 0.82))]
    plots = {p.name: p for p in draw_all(run_of(T3=table(("train_size", "dropout"), rows)),
                                         None, tmp_path, formats=("svg", "png"))}
    assert set(plots) == {name for name, *_ in PLOTS}
    gap = plots["gap-vs-size"]
    assert gap.missing is None and gap.svg.exists() and gap.png.exists()
    svg = gap.svg.read_text()
    assert "<!-- no dropout -->" in svg and "<!-- p = 0.3 -->" in svg
    assert plots["mc-vs-samples"].missing == "T8 (Monte Carlo dropout) is not in this run"
    assert plots["mc-vs-samples"].svg is None
