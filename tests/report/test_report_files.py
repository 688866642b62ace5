"""report.md, report.html and the plots of a fixture run, written into a temporary folder."""

import re

import pytest
from report_helpers import FIXTURES

from fastdrop.cli import main


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    assert main(["report", str(FIXTURES / "full"), "--format", "md,html", "--out", str(out),
                 "--gpu", "none"]) == 0
    return out


def test_files_and_plots(written):
    names = {p.name for p in (written / "plots").iterdir()}
    for stem in ("accuracy-vs-rate", "cost-vs-rate", "mc-vs-samples"):
        assert {f"{stem}.svg", f"{stem}.png"} <= names
    assert (written / "plots" / "accuracy-vs-rate.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = (written / "plots" / "accuracy-vs-rate.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<dc:date>" not in svg  # no date: stable bytes


def test_markdown_has_the_tables_and_claims(written):
    md = (written / "report.md").read_text()
    assert md.startswith("# fastdrop report: full")
    assert "### T1  accuracy vs rate" in md
    assert "| model | p | train acc (%) | test acc (%) |" in md
    assert "| mlp | 0.5 | 74.2 ± 2.1 | **27.6 ± 20.3** |" in md  # the best value in bold
    assert "| 7 | Dropout reduces the number of trainable parameters. | does not hold | " \
        "does not hold: mlp (+0 parameters)" in md
    assert "![Test accuracy vs dropout rate](plots/accuracy-vs-rate.svg)" in md
    assert "**Verdict: does not hold (" in md
    # plots without data are listed, not drawn
    assert "- Overfitting vs training-set size: T3 (overfitting vs training-set size) is not " \
           "in this run" in md


def test_html_is_self_contained(written):
    html = (written / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html
    assert not re.search(r"https?://", html)  # nothing fetched, nothing linked outside
    srcs = re.findall(r'src="([^"]*)"', html)
    assert len(srcs) == 3 and all(s.startswith("data:image/svg+xml;base64,") for s in srcs)
    assert not re.search(r"<(script|link|iframe)\b", html)
    assert not re.search(r"url\(", html)  # no CSS fetches either
    assert 'href="' not in html
    # the same tables as the markdown
    assert "<h3 id=\"t1\">T1  accuracy vs rate</h3>" in html
    assert '<td class="num best">27.6 ± 20.3</td>' in html
    assert '<span class="verdict v-fails">Verdict: does not hold (' in html


def test_partial_run_renders_what_it_has(tmp_path):
    assert main(["report", str(FIXTURES / "partial"), "--format", "md", "--out",
                 str(tmp_path), "--gpu", "none"]) == 0
    md = (tmp_path / "report.md").read_text()
    assert "Missing or wrong in this run folder:" in md
    assert "20 of 30 tasks have not run" in md
    assert "| mlp | gaussian | 0.3 | - | -  [0/2 runs] |" in md
    assert "T4 is incomplete" in md


def test_default_output_goes_into_the_run_folder(fixture_copy, capsys):
    run = fixture_copy("k1")
    assert main(["report", str(run), "--format", "html", "--gpu", "none"]) == 0
    assert (run / "report" / "report.html").exists()
    assert (run / "report" / "plots" / "kernels-vs-rate.svg").exists()
    assert f"wrote {run / 'report' / 'report.html'}" in capsys.readouterr().out


def test_render_and_write_the_hook_for_fastdrop_bench(fixture_copy, tmp_path):
    from report_helpers import console

    from fastdrop.report.command import render_and_write

    run = fixture_copy("partial")
    c = console()
    assert render_and_write(run, c, gpu="none") == 0
    text = c.file.getvalue()
    assert "T1  accuracy vs rate" in text and f"wrote {run / 'report' / 'report.md'}" in text
    assert (run / "report" / "report.html").exists()
    c = console()
    assert render_and_write(tmp_path / "gone", c) == 2
    assert "gone: no such run folder" in c.file.getvalue()


def test_key_findings_first_kernels_last(written):
    """The order a practitioner reads in: key findings, the claims at a glance, the
    training tables, the claims in full (this fixture has no kernel table: document.build
    puts K1 last); the same in markdown and HTML."""
    md = (written / "report.md").read_text()
    html = (written / "report.html").read_text()
    for text, marks in ((md, ("## Key findings", "## The article's claims at a glance",
                              "### T1  accuracy vs rate", "## The claims")),
                        (html, ('id="key-findings"', 'id="claims-summary"', 'id="t1"',
                                'id="claims"'))):
        at = [text.find(m) for m in marks]
        assert all(i >= 0 for i in at), list(zip(marks, at, strict=True))
        assert at == sorted(at)
    assert "Without dropout, beside the published MNIST-1D figures" in md
