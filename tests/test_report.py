"""parity report: contexts, figures, escaping, safe file names, determinism, single file, summary.md,
and the real graphs fixtures (Jetson Orin AGX 30W, fp32, batch 1)."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest

from reporter import history_chart
from reporter.analysis import Marker, load_site
from reporter.ingest import ingest
from reporter.nightly import history_change_points
from reporter.pages import SiteMap, slug, views
from reporter.render import render_single_file, render_site, summary_markdown, write_report
from reporter.report_queries import HISTORY_POINTS
from reporter.site_files import PLOTLY_JS
from reporter.store import Store
from reporter.templating import GENERATED_LINE
from tests.builders import measurement, run_info
from tests.conftest import REPO, site_pages
from tests.report_db import CPU, HOSTILE_MODEL, TRAVERSAL_MODEL

ORIN_30W = "jetson-orin-agx-64gb@30w"
MAX_PAGE_BYTES = 2 * 1024 * 1024


def test_report_escapes_hostile_names_everywhere(site_dir):
    pages = site_pages(site_dir)
    model_page = pages[SiteMap().model(HOSTILE_MODEL, CPU).path]
    assert "&lt;img src=x onerror=alert(1)&gt;" in model_page  # shown as text in the page
    # In figures (hover, tick labels) the name is escaped for Plotly's HTML-ish labels, then for
    # the JSON in <script>.
    assert "\\u0026lt;img src=x onerror=alert(1)\\u0026gt;" in pages[SiteMap().platform(CPU).path]
    for name, text in pages.items():
        assert "<img" not in text, name
        assert "</script><" not in text.replace("</script>\n<", ""), name  # no early end of a script
    assert "<CPUExecutionProvider>" not in pages["index.html"]  # failure messages are escaped too


def test_report_file_names_cannot_leave_the_output_folder(site_dir):
    written = [path.resolve() for path in site_dir.rglob("*") if path.is_file()]
    assert all(path.is_relative_to(site_dir.resolve()) for path in written)
    traversal = SiteMap().model(TRAVERSAL_MODEL, CPU).path
    assert (site_dir / traversal).is_file() and ".." not in traversal
    assert not (site_dir.parent / "x.html").exists()


@pytest.mark.parametrize("name", ["../../x", "..", "a/b", "C:\\x", "<img>", "ResNet-18", "", "x" * 300])
def test_slug_is_a_plain_file_name(name):
    assert re.fullmatch(r"[a-z0-9][a-z0-9_@.-]*", slug(name)) and ".." not in slug(name)
    assert len(slug(name)) <= 64


def test_slug_keeps_safe_names_and_separates_the_others():
    assert slug("resnet18") == "resnet18" and slug(ORIN_30W) == ORIN_30W
    assert slug("ResNet18") != slug("resnet18") and slug("a/b") != slug("a-b")


def _report_in_a_process(db: Path, out: Path, hash_seed: int) -> dict[str, str]:
    """`parity report` run in a process of its own, with its own order of sets and dicts of strings."""
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
    command = [sys.executable, "-m", "reporter.cli", "report", "--db", str(db), "--out", str(out)]
    subprocess.run(command, cwd=REPO, env=env, check=True, capture_output=True)
    return {**site_pages(out), "summary.md": (out / "summary.md").read_text(encoding="utf-8")}


def test_report_same_database_renders_same_bytes_bar_the_timestamp(report_db, tmp_path):
    # Two processes, two hash seeds: an order taken from a set or a hash shows as a difference.
    one, two = (_report_in_a_process(report_db, tmp_path / str(seed), seed) for seed in (1, 2))
    assert one.keys() == two.keys()
    for name in one:
        assert GENERATED_LINE.sub("", one[name]) == GENERATED_LINE.sub("", two[name]), name
        assert len(GENERATED_LINE.findall(one[name])) == (name != "summary.md")


def test_report_site_writes_plotly_once_and_loads_nothing_remote(site_dir):
    assert (site_dir / "assets" / "plotly.min.js").read_bytes() == PLOTLY_JS.read_bytes()
    plotly_start = PLOTLY_JS.read_text(encoding="utf-8")[:200]
    for name, text in site_pages(site_dir).items():
        assert plotly_start not in text, name
        assert text.count("assets/plotly.min.js") == 1, name
        assert not re.search(r"""(src|href)="(https?:)?//""", text), name
        assert len(text.encode()) < MAX_PAGE_BYTES, name


def test_report_single_file_inlines_plotly_exactly_once(site, tmp_path):
    path = render_single_file(site, tmp_path / "report.html")
    text = path.read_text(encoding="utf-8")
    assert text.count(PLOTLY_JS.read_text(encoding="utf-8")[:200]) == 1
    assert "<script src=" not in text and '<link rel="stylesheet"' not in text
    anchors = set(re.findall(r'<section class="page" id="([^"]+)"', text))
    assert {"index", "platform-" + CPU, "model-" + slug(CPU) + "--resnet18"} <= anchors
    assert all(f"#{anchor}" in text for anchor in anchors - {"index"})  # every section is linked


def test_report_charts_are_valid_plotly_figures(site):
    for view in views(site, SiteMap()):
        for figure in view.figures.values():
            go.Figure(figure)  # raises on any property Plotly does not know


def test_report_model_page_has_every_section(site):
    resnet18 = next(m for m in site.models if (m.model, m.platform) == ("resnet18", CPU))
    view = next(v for v in views(site, SiteMap()) if v.context is resnet18)
    assert set(view.figures) == {
        f"{view.page.anchor}--{name}"
        for name in (
            "latency",
            "split--fp32-b1",
            "speedups",
            "history",
            f"subgraphs--fp32-b1-{slug('graphs calibration')}",
        )
    }
    # The device-busy twin of the timed EAGER cell splits its caller latency: 13 ms = 6 ms device + 7 host.
    assert resnet18.split[["conversion", "caller_ms", "device_ms", "host_ms"]].values.tolist() == [
        ["EAGER", 13.0, 6.0, 7.0]
    ]
    assert resnet18.alma_vs_parity[["alma_ms", "parity_ms"]].values.tolist() == [[pytest.approx(11.7), 13.0]]
    assert ("cpu.cores", "2") in resnet18.environment and resnet18.run_id == "run-3"
    assert resnet18.subgraphs["measured_ms"].tolist() == [1.5, 2.5, 2.0]


def test_report_history_marks_change_points(report_db):
    marker = Marker(at=dt.datetime(2026, 11, 22, 2, 30), label="+10 % <b>", series="EAGER")
    with Store.open(report_db, read_only=True) as store:
        site = load_site(store, change_points={("resnet18", CPU): [marker]})
    view = next(
        v
        for v in views(site, SiteMap())
        if getattr(v.context, "model", None) == "resnet18" and v.context.platform == CPU
    )
    layout = view.figures[f"{view.page.anchor}--history"]["layout"]
    assert layout["shapes"][0]["x0"] == "2026-11-22T02:30:00"
    assert layout["annotations"][0]["hovertext"] == "EAGER: +10 % &lt;b&gt;"


def test_report_long_history_is_bucketed_in_sql(db_path):
    nights = 3 * HISTORY_POINTS + 7
    with Store.open(db_path) as store, store.atomic():
        store.execute("INSERT INTO runs (run_id, kind, started_at) VALUES ('r', 'bench', '2026-01-01')")
        store.insert_columns(
            "measurements",
            {
                "measurement_id": list(range(nights)),
                "model": ["m"] * nights,
                "platform": ["p"] * nights,
                "precision": ["fp32"] * nights,
                "batch_size": [1] * nights,
                "conversion": ["EAGER"] * nights,
                "method": ["synced-e2e"] * nights,
                "status": ["ok"] * nights,
                "median": [1.0 + i for i in range(nights)],
                "measured_at": [dt.datetime(2026, 1, 1) + dt.timedelta(days=i) for i in range(nights)],
                "run_id": ["r"] * nights,
            },
        )
    with Store.open(db_path, read_only=True) as store:
        history = load_site(store).models[0].history
    assert len(history) == HISTORY_POINTS and history["runs"].sum() == nights
    assert history["point_at"].is_monotonic_increasing


def test_report_history_keeps_one_series_per_device(db_path):
    """A GPU host benches --device cpu and --device cuda under one platform slug: the model page's
    history and the change points must keep two series, each with its own points and steps."""
    start = dt.datetime(2026, 10, 1, 2)
    with Store.open(db_path) as store, store.atomic():
        for night in range(30):
            at = start + dt.timedelta(days=night)
            store.add_run(run_info(f"run-{night}", started_at=at.isoformat(), environment={}))
            cpu, cuda = 10.0 if night < 20 else 12.0, 1.0 if night < 15 else 0.5  # each steps on its own night
            store.add_measurements(
                [
                    measurement(device="cpu", median=cpu, measured_at=at.isoformat()),
                    measurement(device="cuda", median=cuda, measured_at=at.isoformat()),
                ],
                f"run-{night}",
                None,
            )
        markers = history_change_points(store)
    with Store.open(db_path, read_only=True) as store:
        [page] = load_site(store, change_points=markers).models
    assert len(page.history) == 2 * 30  # one point per night and device, not one per night
    history = {
        device: (series["median"].tolist(), series["runs"].tolist())
        for device, series in page.history.groupby("device")
    }
    assert history == {"cpu": ([10.0] * 20 + [12.0] * 10, [1] * 30), "cuda": ([1.0] * 15 + [0.5] * 15, [1] * 30)}
    assert [(marker.at, marker.series, marker.label) for marker in page.change_points] == [
        (start + dt.timedelta(days=15), "EAGER", "fp32 b1: -50 % (1 ms → 500 µs)"),
        (start + dt.timedelta(days=20), "EAGER", "fp32 b1: +20 % (10 ms → 12 ms)"),
    ]
    drawn = history_chart.history_chart(measured=page.history, predicted=page.predicted_history)["data"]
    assert [trace["name"] for trace in drawn] == [
        "EAGER · fp32 · b1 · synced-e2e · cpu",
        "EAGER · fp32 · b1 · synced-e2e · cuda",
    ]


def test_summary_markdown_has_headline_worst_comparisons_and_escapes(site):
    text = summary_markdown(site)
    # One score per quantity and measured figure; the proxy one is a row of its own, said so.
    assert (
        "| latency | caller latency | this platform | 11 | 25.0 % (passes the ≤ 30 % gate) | 36.4 % | 63.6 % "
        "| 1.28 (pessimistic) |"
    ) in text
    assert (
        "| latency | device time | this platform | 1 | 116.7 % (fails the ≤ 30 % gate) | 0.0 % | 0.0 % "
        "| 2.17 (pessimistic) |"
    ) in text
    assert (
        "| latency | caller latency | proxy | 1 | 25.0 % (passes the ≤ 30 % gate) | 0.0 % | 100.0 % "
        "| 1.25 (pessimistic) |"
    ) in text
    assert "never mixed with direct ones" in text
    assert f"| `{CPU}` | latency | `synced-e2e` | `fp32` | 1 | 11 | 25.0 % |" in text
    assert (
        "| `h100-sxm5-80gb (proxy: measured on nvidia-h200)` | latency | `synced-e2e` | `fp32` | 1 | 1 | 25.0 % |"
        in text
    )
    worst = text.split("### Worst 10 latency comparisons")[1].splitlines()[5]
    # A user's string is a code span: GitHub shows `<img ...>` as text there, and runs nothing.
    assert worst.startswith("| `<img src=x onerror=alert(1)>` |") and worst.endswith("| +66.7 % |")
    assert text.count("<img") == text.count("`<img src=x onerror=alert(1)>`")


def test_summary_markdown_from_an_open_store(report_db, site):
    with Store.open(report_db, read_only=True) as store:
        assert summary_markdown(store) == summary_markdown(site)


def test_report_empty_database_renders_every_section_empty(db_path, tmp_path):
    Store.open(db_path).close()
    with Store.open(db_path, read_only=True) as store:
        index = write_report(store, tmp_path / "site")
        summary = summary_markdown(store)
    assert "No comparisons yet" in index.read_text(encoding="utf-8")
    assert "0 models, 0 platforms." in summary and "| latency |" not in summary


@pytest.fixture(scope="module")
def graphs_db(fixtures, tmp_path_factory) -> Path:
    """The real graphs predictions, calibration measurements and per-subgraph detail."""
    path = tmp_path_factory.mktemp("graphs-report") / "parity.duckdb"
    graphs = fixtures / "graphs"
    with Store.open(path) as store:
        assert not ingest(store, [graphs / "predictions", graphs / "calibration", graphs / "verdict"]).errors
    return path


@pytest.fixture(scope="module")
def graphs_site(graphs_db):
    with Store.open(graphs_db, read_only=True) as store:
        return load_site(store)


@pytest.mark.parametrize("database", ["report_db", "graphs_db"])
def test_report_comparisons_agree_with_the_comparisons_view(database, request):
    with Store.open(request.getfixturevalue(database), read_only=True) as store:
        ours = load_site(store).comparisons
        # The store's view of what is scored; the report pairs against a kept table instead, for speed.
        expected = store.frame("SELECT * FROM current_quantity_comparisons")
    keys = [
        "quantity",
        "model",
        "platform",
        "measured_platform",
        "precision",
        "batch_size",
        "conversion",
        "method",
        "device",
        "predictor",
    ]
    expected = expected.sort_values(keys, kind="mergesort").reset_index(drop=True)
    assert len(ours) > 10
    pd.testing.assert_frame_equal(ours.sort_values(keys, kind="mergesort").reset_index(drop=True), expected)


def test_report_jetson_30w_fp32_batch1_is_far_off(graphs_site):
    orin = next(p for p in graphs_site.platforms if p.platform == ORIN_30W)
    group = orin.groups[(orin.groups["precision"] == "fp32") & (orin.groups["batch_size"] == 1)]
    assert group["count"].tolist() == [15]
    assert group["median_ape"].iloc[0] == pytest.approx(56, abs=1.5)
    assert group["within_30_pct"].iloc[0] == 0
    assert f"| `{ORIN_30W}` | latency | `layerwise-sum` | `fp32` | 1 | 15 | 56." in summary_markdown(graphs_site)


def test_report_real_fixtures_show_coverage_and_subgraphs(graphs_site, tmp_path):
    unmatched = graphs_site.index.unmatched_measurements
    assert set(unmatched["platform"]) >= {"jetson-orin-agx-64gb@50w"}  # no 50W predictions: never matched
    assert "jetson-orin-agx-64gb@50w" not in set(graphs_site.comparisons["measured_platform"])
    with_subgraphs = {(m.model, m.platform) for m in graphs_site.models if len(m.subgraphs)}
    assert with_subgraphs == {("resnet18", ORIN_30W), ("resnet50", ORIN_30W)}
    render_site(graphs_site, tmp_path)
    assert max(len(text.encode()) for text in site_pages(tmp_path).values()) < MAX_PAGE_BYTES
