"""`parity compare` on runs written straight through the Store: every class, the environment
warning, run references, the prediction side, the three output formats and the exit codes."""

from __future__ import annotations

import json
import random

import pytest

from collectors.records import Measurement
from reporter.cell_changes import CLASSES, DEFAULT_THRESHOLD_PCT, Side, classify
from reporter.cli import main
from reporter.commands import compare as compare_command
from reporter.compare import CompareError, compare_runs, resolve_run
from reporter.compare_formats import RENDERERS
from reporter.store import Store
from tests.compare_runs import BASE_ENV, CPU, HEAD_ENV, measurement, prediction, run_info, samples


def base_and_head(rng: random.Random) -> tuple[list[Measurement], list[Measurement]]:
    """One cell per class, plus a large-but-noisy and a significant-but-small unchanged cell."""
    noisy_base, noisy_head = (5.0, 9.0, 5.5), (6.0, 10.0, 6.5)  # +18 %, but 3 against 3 samples
    base = [
        measurement("resnet18", "EAGER", samples(rng, 10.0)),  # regressed
        measurement("resnet18", "ONNX_CPU", samples(rng, 8.0)),  # improved
        measurement("resnet50", "EAGER", samples(rng, 20.0)),  # unchanged: noise
        measurement("resnet50", "ONNX_CPU", samples(rng, 20.0, spread=0.002)),  # unchanged: 2 %, below threshold
        measurement("mobilenet_v2", "EAGER", noisy_base),  # unchanged: large, not significant
        measurement("vgg11", "EAGER", samples(rng, 30.0)),  # newly failing
        measurement("vgg11", "ONNX_CPU", status="failed"),  # newly passing
        measurement("squeezenet1_0", "EAGER", samples(rng, 4.0)),  # gone
        measurement("densenet121", "EAGER", median=10.0, ci=(9.8, 10.2)),  # regressed, CIs only
        measurement("efficientnet_b0", "EAGER", (1.22,), ci=(1.22, 1.22)),  # untested: one sample
    ]
    head = [
        measurement("resnet18", "EAGER", samples(rng, 11.0)),
        measurement("resnet18", "ONNX_CPU", samples(rng, 7.0)),
        measurement("resnet50", "EAGER", samples(rng, 20.0)),
        measurement("resnet50", "ONNX_CPU", samples(rng, 20.4, spread=0.002)),
        measurement("mobilenet_v2", "EAGER", noisy_head),
        measurement("vgg11", "EAGER", status="failed"),
        measurement("vgg11", "ONNX_CPU", samples(rng, 25.0)),
        measurement("alexnet", "EAGER", samples(rng, 6.0)),  # new
        measurement("densenet121", "EAGER", median=11.2, ci=(11.0, 11.4)),
        measurement("efficientnet_b0", "EAGER", samples(rng, 44.83, n=13), ci=(44.5, 45.2)),  # +3574 %
    ]
    return base, head


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """Runs: base (27th), head (28th), and two older runs sharing the label 'dup'."""
    path = tmp_path_factory.mktemp("compare") / "compare.duckdb"
    base, head = base_and_head(random.Random(42))
    with Store.open(path) as store, store.atomic():
        for info, rows in (
            (run_info("run-dup-1", "dup", 20, BASE_ENV), base[:1]),
            (run_info("run-dup-2", "dup", 21, BASE_ENV), base[:1]),
            (run_info("run-base", "nightly 1", 27, BASE_ENV), base),
            (run_info("run-head", "pr-42", 28, HEAD_ENV), head),
        ):
            store.add_run(info)
            store.add_measurements(rows, info.run_id, None)
        # 1.0 predates both runs; 1.1 is the PR's, predicted after its devices benchmarked
        store.add_predictions([prediction("1.0", 5.0, "2026-11-01T00:00:00")], "src-v10")
        store.add_predictions([prediction("1.1", 10.5, "2026-11-28T12:00:00")], "src-v11")
    return path


@pytest.fixture(scope="module")
def comparison(db):
    with Store.open(db, read_only=True) as store:
        return compare_runs(store, "nightly 1", "pr-42")


def kinds(comparison) -> dict[str, str]:
    return {f"{c.key.model} {c.key.conversion}": c.kind for c in comparison.cells}


def test_compare_classifies_every_cell(comparison):
    assert kinds(comparison) == {
        "resnet18 EAGER": "regressed",
        "densenet121 EAGER": "regressed",
        "vgg11 EAGER": "newly failing",
        "resnet18 ONNX_CPU": "improved",
        "vgg11 ONNX_CPU": "newly passing",
        "alexnet EAGER": "new",
        "squeezenet1_0 EAGER": "gone",
        "resnet50 EAGER": "unchanged",
        "resnet50 ONNX_CPU": "unchanged",
        "mobilenet_v2 EAGER": "unchanged",
        "efficientnet_b0 EAGER": "untested",
    }
    assert set(comparison.counts()) == set(CLASSES)
    assert [c.kind for c in comparison.cells] == sorted((c.kind for c in comparison.cells), key=CLASSES.index)


def test_compare_change_needs_both_size_and_significance(comparison):
    cells = {f"{c.key.model} {c.key.conversion}": c for c in comparison.cells}
    small = cells["resnet50 ONNX_CPU"]
    assert small.test.significant and abs(small.change_pct) < DEFAULT_THRESHOLD_PCT
    noisy = cells["mobilenet_v2 EAGER"]
    assert noisy.change_pct == pytest.approx(100 * (6.5 / 5.5 - 1)) and not noisy.test.significant
    assert cells["densenet121 EAGER"].test.test == "ci-overlap"
    assert cells["resnet18 EAGER"].test.test == "mann-whitney" and cells["resnet18 EAGER"].test.p_value < 1e-6
    # one sample (CI (1.22, 1.22)) against 13: +3574 %, but there is nothing to test it with
    tiny = cells["efficientnet_b0 EAGER"]
    assert tiny.change_pct > 3000 and tiny.test.test == "none" and not tiny.test.significant
    assert tiny.test.note == "too little data (base 1 sample(s), fewer than 6): change not tested"


def test_compare_of_cells_measured_in_several_processes_trusts_their_widened_cis():
    # Head pooled 20 % slower, but base's processes already spread 1.0 to 1.3 ms (its CI covers
    # them): a process-level shift, not a change. The rank test on pooled samples would say regressed.
    base = Side("ok", 1.0, (0.98, 1.3), tuple([1.0, 1.01, 0.99] * 10), processes=3)
    head = Side("ok", 1.2, (1.18, 1.22), tuple([1.2, 1.21, 1.19] * 10), processes=3)
    kind, change_pct, test = classify(base, head)
    assert (kind, test.test) == ("unchanged", "ci-overlap") and change_pct == pytest.approx(20)
    single = [Side(s.status, s.median, s.ci95, s.samples) for s in (base, head)]
    assert classify(*single)[0] == "regressed"
    assert classify(base, Side("ok", 1.5, (1.45, 1.55), tuple([1.5] * 30), processes=3))[0] == "regressed"


def test_compare_both_failing_is_unchanged():
    failed = Side("failed", None, (None, None), ())
    assert classify(failed, failed)[0] == "unchanged"


def test_compare_names_differing_environment_keys(comparison):
    assert [(d.key, d.base, d.head) for d in comparison.environment] == [("torch_version", "2.11.0", "2.12.0")]


def test_compare_prediction_side_scores_the_new_version_against_the_one_in_use_before(comparison):
    [shift] = comparison.predictions
    assert (shift.predictor, shift.platform, shift.base_version, shift.head_version) == ("graphs", CPU, "1.0", "1.1")
    # 1.0 predicts 5 ms against base's 10 ms EAGER and 8 ms ONNX_CPU: APE 50 % and 37.5 %
    assert shift.before.count == 2 and shift.before.median_ape == pytest.approx(43.75, rel=0.02)
    # 1.1 predicts 10.5 ms against head's 11 ms EAGER and 7 ms ONNX_CPU: APE 4.5 % and 50 %
    assert shift.after.count == 2 and shift.after.median_ape == pytest.approx(27.3, rel=0.05)


def test_compare_prediction_versions_can_be_chosen(db):
    with Store.open(db, read_only=True) as store:
        [shift] = compare_runs(store, "run-base", "run-head", base_predictor="1.1").predictions
    assert shift.base_version == shift.head_version == "1.1"


@pytest.mark.parametrize(
    "ref,run_id",
    [
        ("run-base", "run-base"),
        ("nightly 1", "run-base"),
        ("latest", "run-head"),
        ("latest~1", "run-base"),
        ("latest~3", "run-dup-1"),
    ],
)
def test_compare_resolves_run_references(db, ref, run_id):
    with Store.open(db, read_only=True) as store:
        assert resolve_run(store, ref).run_id == run_id


@pytest.mark.parametrize(
    "ref,message",
    [
        ("dup", "run 'dup': the label names 2 runs (run-dup-1, run-dup-2); pass a run id or latest~N"),
        ("latest~4", "run 'latest~4': only 4 run(s) with synced-e2e or device-busy measurements"),
        ("nope", "run 'nope': no run has this id or label"),
    ],
)
def test_compare_bad_references_say_why(db, ref, message):
    with Store.open(db, read_only=True) as store, pytest.raises(CompareError) as error:
        resolve_run(store, ref)
    assert str(error.value).startswith(message)


def test_compare_cli_exit_codes(db, capsys):
    argv = ["compare", "--db", str(db), "--base", "latest~1", "--head", "latest"]
    assert main(argv) == 0
    assert main(argv + ["--fail-on-regression"]) == 1
    assert main(["compare", "--db", str(db), "--base", "latest~2", "--head", "latest~2", "--fail-on-regression"]) == 0
    assert main(["compare", "--db", str(db), "--base", "dup", "--head", "latest"]) == 2
    assert "parity compare: error: run 'dup': the label names 2 runs" in capsys.readouterr().err


def test_compare_cli_formats_are_the_renderers():
    assert set(compare_command.FORMATS) == set(RENDERERS)


def test_compare_markdown_fits_a_pull_request_comment(comparison):
    text = RENDERERS["markdown"].render(comparison, "https://example.org/parity/index.html")
    first, *rest = text.splitlines()
    assert first.startswith("**REGRESSION: 2 regressed, 1 newly failing, 1 improved, 1 newly passing")
    assert "> ⚠️ **The environments differ**" in text and "`torch_version`: `2.11.0` → `2.12.0`" in text
    notable, details = text.split("<details>")
    assert "resnet18 EAGER fp32 bs1" in notable and "alexnet" not in notable
    assert "<summary>6 other cells: 1 untested, 1 new, 1 gone, 3 unchanged</summary>" in details
    assert "alexnet" in details and "> ❔ 1 cell(s) untested: too little data" in notable
    assert "- `vgg11 EAGER fp32 bs1 on test-cpu`: `the worker died of SIGSEGV`" in notable
    assert "| `graphs` | caller latency | `test-cpu` | `1.0 → 1.1` |" in text
    assert text.endswith("Full report: https://example.org/parity/index.html")


def test_compare_json_is_one_object(comparison):
    document = json.loads(RENDERERS["json"].render(comparison, None))
    assert document["has_regression"] is True
    assert document["counts"]["regressed"] == 2 and len(document["cells"]) == 11
    regressed = next(c for c in document["cells"] if c["model"] == "resnet18" and c["conversion"] == "EAGER")
    assert regressed["class"] == "regressed" and regressed["base"]["n_samples"] == 60
    assert document["environment_differences"] == [{"key": "torch_version", "base": "2.11.0", "head": "2.12.0"}]


def test_compare_text_lists_every_cell(comparison):
    text = RENDERERS["text"].render(comparison, None)
    assert text.splitlines()[0] == comparison.verdict()
    assert "WARNING: environments differ: torch_version: 2.11.0 → 2.12.0" in text
    assert "(11 rows)" in text


def test_compare_markdown_escapes_hostile_names():
    from reporter.formatting import markdown_text

    assert markdown_text("<img src=x>|a") == "&lt;img src=x&gt;\\|a"
    assert markdown_text("[pwn](http://x)\n| *x*") == "\\[pwn\\](http://x) \\| \\*x\\*"


def test_compare_markdown_stays_short_when_many_cells_move(monkeypatch, comparison):
    from reporter import compare_formats

    monkeypatch.setattr(compare_formats, "MARKDOWN_NOTABLE_ROWS", 2)
    monkeypatch.setattr(compare_formats, "MARKDOWN_DETAIL_ROWS", 3)
    text = compare_formats.render_markdown(comparison, None)
    notable, details = text.split("<details>")
    assert notable.count("| 🔴 regressed |") == 2 and "newly failing" not in notable.split("\n", 1)[1]
    assert (
        "<summary>9 other cells: 1 newly failing, 1 improved, 1 newly passing, 1 untested, 1 new, 1 gone, "
        "3 unchanged</summary>"
    ) in details
    assert "… and 6 more (`parity compare --format json` lists all)" in details


@pytest.fixture(scope="module")
def noisy_nights(tmp_path_factory):
    """Twelve nights of one cell whose median wanders 2 % from night to night, each night's
    samples tight (0.2 %); then a head run 7 % slower than the last night."""
    rng = random.Random(3)
    path = tmp_path_factory.mktemp("nights") / "nights.duckdb"
    medians = [10.0 * (1 + rng.gauss(0, 0.02)) for _ in range(12)] + [None]
    medians[-1] = medians[-2] * 1.07
    with Store.open(path) as store, store.atomic():
        for night, centre in enumerate(medians):
            info = run_info(f"night-{night:02d}", None, night + 1, BASE_ENV)
            store.add_run(info)
            store.add_measurements(
                [measurement("resnet18", "EAGER", samples(rng, centre, spread=0.002))], info.run_id, None
            )
    return path


def test_compare_change_within_night_to_night_noise_is_unchanged(noisy_nights):
    with Store.open(noisy_nights, read_only=True) as store:
        [cell] = compare_runs(store, "latest~1", "latest").cells
        [without_history] = compare_runs(store, "latest~1", "latest", history_nights=0).cells
    assert cell.test.significant and cell.change_pct >= DEFAULT_THRESHOLD_PCT
    # the spread of the change between two nights with 2 % noise each is about 2.8 %
    assert cell.kind == "unchanged" and 2.0 < cell.night_spread_pct < 4.0
    assert cell.change_pct < 3 * cell.night_spread_pct
    assert without_history.kind == "regressed" and without_history.night_spread_pct is None


def test_compare_night_spread_needs_six_nights():
    from reporter.significance import beyond_night_noise, night_spread_pct

    assert night_spread_pct([10.0, 10.2, 9.8, 10.1, 9.9]) is None
    assert night_spread_pct([10.0] * 6) == 0.0
    assert beyond_night_noise(7.0, None) and beyond_night_noise(7.0, 2.0) and not beyond_night_noise(7.0, 3.0)
