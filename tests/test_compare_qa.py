"""`parity compare` on an H200-shaped history (graphs' report and verdict predictions, a declared
proxy, Alma's figures), on energy and device time, and on a killed run."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest

from collectors.records import Measurement
from reporter.cli import main
from reporter.compare import compare_runs
from reporter.compare_formats import RENDERERS
from reporter.store import Store
from tests import builders
from tests.compare_runs import BASE_ENV, CPU, measurement, prediction, run_info, samples

H200, H100, JETSON = "nvidia-h200", "h100-sxm5-80gb", "jetson-orin-agx-64gb@30w"


def alma(model: str, median: float) -> Measurement:
    """Alma's own figure: a median over 16 iterations, no samples and no CI."""
    return dataclasses.replace(
        measurement(model, "EAGER", median=median, platform=H200), method="alma", n_iterations=16
    )


@pytest.fixture(scope="module")
def h200_db(tmp_path_factory):
    """r1, r2: H200 runs of resnet18 and resnet50 (synced-e2e and alma); r3: other models only.
    Predictions: graphs' report files (no version, H100, for which the H200 is a declared proxy)
    and a newer verdict file (1.0.0, Jetson only)."""
    rng = random.Random(7)
    path = tmp_path_factory.mktemp("h200") / "h200.duckdb"
    with Store.open(path) as store, store.atomic():
        for run_id, day, models, alma_ms in (
            ("r1", 25, ("resnet18", "resnet50"), 2.39),
            ("r2", 26, ("resnet18", "resnet50"), 150.3),
            ("r3", 27, ("vgg11", "alexnet"), None),
        ):
            store.add_run(dataclasses.replace(run_info(run_id, None, day, BASE_ENV), platform=H200))
            rows = [measurement(model, "EAGER", samples(rng, 2.0), platform=H200) for model in models]
            rows += [alma(model, alma_ms) for model in models] if alma_ms else []
            store.add_measurements(rows, run_id, None)
        store.add_proxies({H200: H100})
        store.add_predictions([prediction(None, 1.0, "2026-11-01T00:00:00", H100)], "graphs-report")
        store.add_predictions([prediction("1.0.0", 3.0, "2026-11-02T00:00:00", JETSON)], "graphs-verdict")
    return path


def test_compare_prediction_version_is_chosen_per_platform(h200_db):
    """The newest version (1.0.0) never predicted the H100: the H100 row must still be scored,
    with the version that did predict it (before: `predictions: []`)."""
    with Store.open(h200_db, read_only=True) as store:
        comparison = compare_runs(store, "r1", "r1")
    [shift] = comparison.predictions
    assert (shift.platform, shift.measured_platform, shift.is_proxy) == (H100, H200, True)
    assert shift.base_version is None and shift.head_version is None and shift.notes == ()
    assert shift.before.count == shift.after.count == 1 and shift.before.median_ape == shift.after.median_ape
    assert json.loads(RENDERERS["json"].render(comparison, None))["predictions"][0]["platform"] == H100
    assert (
        "| `graphs` | caller latency | `h100-sxm5-80gb (proxy: nvidia-h200)` | `(unversioned) → (unversioned)` |"
        in RENDERERS["markdown"].render(comparison, None)
    )


def test_compare_prediction_side_without_a_version_says_so(h200_db):
    with Store.open(h200_db, read_only=True) as store:
        comparison = compare_runs(store, "r1", "r2", head_predictor="1.0.0")
    [shift] = comparison.predictions
    assert shift.before is not None and shift.after is None
    assert shift.notes == ("head: version 1.0.0 never predicted this platform",)
    note = "graphs on h100-sxm5-80gb, head: version 1.0.0 never predicted this platform"
    assert f"NOTE: {note}" in RENDERERS["text"].render(comparison, None)
    assert "- `graphs` on `h100-sxm5-80gb`, `head: version 1.0.0 never predicted this platform`" in RENDERERS[
        "markdown"
    ].render(comparison, None)
    assert json.loads(RENDERERS["json"].render(comparison, None))["predictions"][0]["notes"] == list(shift.notes)


def test_compare_same_run_warns(h200_db):
    with Store.open(h200_db, read_only=True) as store:
        same = compare_runs(store, "r1", "r1")
        different = compare_runs(store, "r1", "r2")
    assert different.warnings() == []
    [warning] = same.warnings()
    assert warning.startswith("base and head are the same run (r1)")
    assert f"WARNING: {warning}" in RENDERERS["text"].render(same, None).splitlines()
    assert f"> ⚠️ **`{warning}`**" in RENDERERS["markdown"].render(same, None).splitlines()
    assert json.loads(RENDERERS["json"].render(same, None))["warnings"] == [warning]


def test_compare_platform_alias_is_resolved(h200_db, capsys):
    with Store.open(h200_db, read_only=True) as store:
        comparison = compare_runs(store, "latest~1", "latest", platform="h200")
    assert {cell.key.platform for cell in comparison.cells} == {H200}
    assert main(["compare", "--db", str(h200_db), "--base", "latest~1", "--head", "latest", "--platform", "H200"]) == 0
    assert "only 0 run(s)" not in capsys.readouterr().err


def test_compare_alma_figures_are_untested_in_every_format(h200_db):
    with Store.open(h200_db, read_only=True) as store:
        comparison = compare_runs(store, "r1", "r2", methods=["alma"])
    assert {cell.kind for cell in comparison.cells} == {"untested"} and not comparison.has_regression
    assert all(cell.change_pct == pytest.approx((150.3 / 2.39 - 1) * 100) for cell in comparison.cells)  # +6189 %
    assert comparison.verdict().startswith("NOT TESTED: 2 untested")
    note = "no samples or CI: change not tested"
    assert all(cell.test.note == note for cell in comparison.cells)
    text = RENDERERS["text"].render(comparison, None)
    assert text.count(note) == 2 and "| ❔ untested |" not in text
    markdown = RENDERERS["markdown"].render(comparison, None)
    assert markdown.count(f"| {note} |") == 2 and "| ❔ untested |" in markdown
    cells = json.loads(RENDERERS["json"].render(comparison, None))["cells"]
    assert [(c["class"], c["test"], c["test_note"]) for c in cells] == [("untested", "none", note)] * 2


def test_compare_never_scores_alma_against_predictions(h200_db):
    """Alma's own loop is shown, never scored (vocabulary.UNSCORED_METHODS): its cells are compared,
    but no predictor's error is computed from them, as in the report and the `comparisons` view."""
    with Store.open(h200_db, read_only=True) as store:
        alma_only = compare_runs(store, "r1", "r2", methods=["alma"])
        both = compare_runs(store, "r1", "r2", methods=["synced-e2e", "alma"])
        scored = {row[0] for row in store.execute("SELECT method FROM quantity_comparisons").rows}
    assert alma_only.cells and alma_only.predictions == ()
    assert {shift.method for shift in both.predictions} == {"synced-e2e"}
    assert scored == {"synced-e2e"}


def test_compare_nothing_in_common_is_not_called_no_change(h200_db, capsys):
    with Store.open(h200_db, read_only=True) as store:
        comparison = compare_runs(store, "r1", "r3")
    assert comparison.verdict() == "NOTHING COMPARABLE: 0 cells in both runs (2 new, 2 gone)"
    argv = ["compare", "--db", str(h200_db), "--base", "r1", "--head", "r3", "--fail-on-regression"]
    assert main(argv) == 0  # docs/workflow.md: exit 0, the verdict says it
    assert capsys.readouterr().out.startswith("NOTHING COMPARABLE: 0 cells in both runs (2 new, 2 gone)")


@pytest.mark.parametrize(
    "option,value,names,not_named",
    [
        ("--threshold", "-5", "threshold -5: must be a percentage >= 0", "alpha"),
        ("--alpha", "2", "alpha 2: must be between 0 and 1", "threshold"),
        ("--history-nights", "-1", "history nights -1: must be >= 0", "alpha"),
    ],
)
def test_compare_option_errors_name_only_that_option(h200_db, capsys, option, value, names, not_named):
    assert main(["compare", "--db", str(h200_db), "--base", "r1", "--head", "r2", option, value]) == 2
    error = capsys.readouterr().err
    assert names in error and not_named not in error and len(error.splitlines()) == 1


def test_compare_judges_energy_and_device_time_by_the_same_rules(tmp_path):
    """A cell whose caller latency held while its energy per batch rose 10 % and its device time
    fell 20 % is one unchanged latency cell, one regressed energy cell and one improved
    device-time cell; --fail-on-regression fails on the energy."""
    rng = random.Random(7)

    def cell(latency: float, energy: float, device_ms: float) -> list[Measurement]:
        timed = builders.measurement(
            platform=CPU,
            device="cpu",
            samples=samples(rng, latency),
            median=latency,
            energy_mj=energy,
            energy_samples=samples(rng, energy, n=12),
        )
        busy = builders.measurement(
            platform=CPU, device="cpu", method="device-busy", samples=samples(rng, device_ms), median=device_ms
        )
        return [timed, busy]

    db = tmp_path / "p.duckdb"
    with Store.open(db) as store, store.atomic():
        for day, measured in ((20, cell(10.0, 500.0, 4.0)), (21, cell(10.0, 550.0, 3.2))):
            store.add_run(run_info(f"r{day}", None, day, BASE_ENV))
            store.add_measurements(measured, f"r{day}", None)
    with Store.open(db, read_only=True) as store:
        comparison = compare_runs(store, "r20", "r21")
    kinds = {(change.key.quantity, change.key.method): change.kind for change in comparison.cells}
    assert kinds == {
        ("latency", "synced-e2e"): "unchanged",
        ("energy", "synced-e2e"): "regressed",
        ("latency", "device-busy"): "improved",
    }
    assert comparison.has_regression
    text = RENDERERS["text"].render(comparison, None)
    assert "resnet18 EAGER fp32 bs1 on test-cpu (energy, synced-e2e)" in text and "550 mJ" in text
    cells = json.loads(RENDERERS["json"].render(comparison, None))["cells"]
    units = {(c["quantity"], c["method"]): (c["unit"], round(c["head"]["median"])) for c in cells}
    assert units == {
        ("latency", "synced-e2e"): ("ms per batch", 10),
        ("energy", "synced-e2e"): ("mJ per batch", 550),
        ("latency", "device-busy"): ("ms per batch", 3),
    }


def test_compare_says_a_killed_run_is_incomplete(tmp_path):
    db = tmp_path / "p.duckdb"
    with Store.open(db) as store, store.atomic():
        store.add_run(run_info("r20", None, 20, BASE_ENV))
        store.add_run(dataclasses.replace(run_info("r21", None, 21, BASE_ENV), finished_at=None))
        store.add_measurements([builders.measurement(platform=CPU, device="cpu", median=2.0)], "r20", None)
        store.add_measurements([builders.measurement(platform=CPU, device="cpu", median=2.0)], "r21", None)
    with Store.open(db, read_only=True) as store:
        comparison = compare_runs(store, "r20", "r21")
    assert comparison.warnings() == [
        "head run r21 is incomplete (stopped before its last cell): its missing cells show as gone"
    ]
