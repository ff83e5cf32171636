"""parity report: declared proxies on the index, platform and model pages, predictor and platform
labels, full-value log ticks, and one series per device on a model page's charts."""

from __future__ import annotations

import pandas as pd
import pytest

from reporter import chart_style, charts
from reporter.formatting import predictor_label
from reporter.pages import SiteMap, views
from tests.conftest import site_pages
from tests.report_db import CPU


def test_report_index_labels_proxy_platform_rows_and_scores_them_apart(site, site_dir):
    assert [(s.method, s.is_proxy, s.stats.count) for s in site.index.headline.scores] == [
        ("synced-e2e", False, 11),
        ("device-busy", False, 1),
        ("synced-e2e", True, 1),
    ]
    index = site_pages(site_dir)["index.html"]
    platforms = index.split('id="platforms"')[1].split("</table>")[0]
    row = next(line for line in platforms.splitlines() if "h100-sxm5-80gb</a>" in line)
    assert "proxy: nvidia-h200" in row and "measured on nvidia-h200" in row
    assert "never mixed with direct ones" in index and 'class="badge proxy"' in index
    matrix = index.split('id="matrix"')[1].split("<table")[0]
    assert "device time is scored apart), pooled over batch sizes and conversions" in matrix


def test_report_proxied_model_page_shows_the_proxy_measurements(site, site_dir):
    page = next(m for m in site.models if (m.model, m.platform) == ("resnet18", "h100-sxm5-80gb"))
    assert page.proxies == ("nvidia-h200",) and set(page.latencies["platform"]) == {"nvidia-h200"}
    assert page.run_platform == "nvidia-h200" and ("cpu.cores", "2") in page.environment
    view = next(v for v in views(site, SiteMap()) if v.context is page)
    assert {f"{view.page.anchor}--latency", f"{view.page.anchor}--history"} <= set(view.figures)
    names = [trace["name"] for trace in view.figures[f"{view.page.anchor}--latency"]["data"]]
    assert names == ["fp32 · b1 · synced-e2e (proxy: nvidia-h200)"]
    html = site_pages(site_dir)[SiteMap().model("resnet18", "h100-sxm5-80gb").path]
    assert "No environment recorded" not in html and "the declared proxy" in html
    assert 'href="../models/nvidia-h200--resnet18.html"' in html


def test_report_proxy_platform_model_page_links_the_page_it_stands_in_for(site, site_dir):
    page = next(m for m in site.models if (m.model, m.platform) == ("resnet18", "nvidia-h200"))
    assert page.proxy_for == ("h100-sxm5-80gb",)
    html = site_pages(site_dir)[SiteMap().model("resnet18", "nvidia-h200").path]
    assert "Measured, but no prediction" not in html
    assert "it is a declared proxy" in html and 'href="../models/h100-sxm5-80gb--resnet18.html"' in html


def test_report_model_page_names_predictor_and_measured_platform(site_dir):
    html = site_pages(site_dir)[SiteMap().model("resnet18", CPU).path]
    table = html.split("Predictions against measurements")[1].split("</table>")[0]
    assert "<td>graphs 1.1</td>" in table and ">here<" not in table
    assert f'measured on the predicted platform itself">{CPU}</span>' in table


@pytest.mark.parametrize(
    "version, label", [("1.1", "graphs 1.1"), ("graphs 1.1", "graphs 1.1"), (None, "graphs"), (float("nan"), "graphs")]
)
def test_predictor_label(version, label):
    assert predictor_label("graphs", version) == label


def test_parity_plot_log_ticks_are_full_values(site):
    figure = next(v for v in views(site, SiteMap()) if v.page == SiteMap().platform(CPU)).figures
    axis = figure[f"platform-{CPU}--parity--latency"]["layout"]["xaxis"]
    assert axis["tickmode"] == "array" and len(axis["tickvals"]) >= 2
    for value, text in zip(axis["tickvals"], axis["ticktext"], strict=True):
        assert float(text) == value and f"{value:e}"[0] in "125"


@pytest.mark.parametrize(
    "low, high, expected",
    [
        (0.3, 12.0, ["0.5", "1", "2", "5", "10"]),
        (0.002, 90.0, ["0.01", "0.1", "1", "10"]),  # more than three decades: decades only
        (4.0, 4.5, None),  # no two ticks fit: Plotly's own
    ],
)
def test_log_ticks(low, high, expected):
    ticks = chart_style.log_ticks(low, high)
    assert ticks.get("ticktext") == expected


def test_model_charts_keep_one_series_per_device():
    # A GPU host benches --device cpu and --device cuda under one platform slug.
    row = dict(
        model="resnet18",
        platform="nvidia-h200",
        precision="fp32",
        batch_size=1,
        method="synced-e2e",
        conversion="COMPILE_INDUCTOR",
        median=2.0,
        p05=1.9,
        p95=2.2,
        speedup=3.0,
    )
    frame = pd.DataFrame(
        [{**row, "device": "cuda"}, {**row, "device": "cpu", "median": 40.0, "p05": 39.0, "p95": 41.0, "speedup": 1.5}]
    )
    no_predictions = pd.DataFrame(columns=["precision", "batch_size", "latency_ms"])
    latency = charts.latency_chart(latencies=frame, predictions=no_predictions, platform="nvidia-h200")
    speedups = charts.speedup_bars(speedups=frame, platform="nvidia-h200")
    names = ["fp32 · b1 · synced-e2e · cpu", "fp32 · b1 · synced-e2e · cuda"]
    assert [(trace["name"], trace["y"][0]) for trace in latency["data"]] == list(zip(names, [40.0, 2.0], strict=True))
    assert [(trace["name"], trace["y"][0]) for trace in speedups["data"]] == list(zip(names, [1.5, 3.0], strict=True))
