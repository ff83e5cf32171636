"""Input formats: detection from content and the records each real sample turns into (bad input:
tests/test_formats_bad.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from collectors.bundle import write_bundle
from collectors.catalogue import precision_of
from collectors.errors import InputError
from collectors.formats import FORMATS, Context, Document, detect
from collectors.journal import Journal
from collectors.names import Names
from tests.builders import measurement, run_info
from tests.format_samples import REPORT, SAMPLES, sample_records, variant


def _sample(name: str, fixtures: Path, tmp_path: Path) -> Path:
    if name == "parity-bundle":
        return write_bundle(BUNDLE_RUN, [BUNDLE_MEASUREMENT], tmp_path / "run.json")
    if name == "parity-journal":
        journal = Journal.create(tmp_path / "run.json.journal", BUNDLE_RUN)
        journal.record([BUNDLE_MEASUREMENT])
        journal.close()
        return journal.path
    return fixtures / SAMPLES[name]


BUNDLE_RUN = run_info("bench-1", host="orin-7", platform="jetson-orin-agx-64gb@30w")
BUNDLE_MEASUREMENT = measurement(
    platform="jetson-orin-agx-64gb@30w", median=20.5, samples=(20.5, 20.4, 20.6), measured_at=None
)


def test_formats_every_module_has_a_sample():
    assert sorted(module.NAME for module in FORMATS) == sorted(SAMPLES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_formats_detect_real_sample(fixtures, tmp_path, name):
    assert name == detect(Document.read(_sample(name, fixtures, tmp_path))).NAME


@pytest.mark.parametrize(
    "relative, name",
    [
        (
            "graphs/verdict/resnet18_orin_verdict_lat.json",
            "graphs-report",
        ),  # the name says verdict; the content does not
        ("graphs/verdict/batch_verdict_lat.json", "graphs-batch-verdict"),
        ("graphs/csv/resnet18_orin.csv", "graphs-csv"),
        ("alma/alma_mobilenet_v3_small_cpu_b4.json", "alma-results"),
    ],
)
def test_formats_detect_other_real_variants(fixtures, relative, name):
    assert name == detect(Document.read(fixtures / relative)).NAME


def test_formats_detection_ignores_file_names(fixtures, tmp_path):
    disguised = tmp_path / "calibration_manifest.csv"
    shutil.copy(fixtures / REPORT, disguised)
    assert detect(Document.read(disguised)).NAME == "graphs-report"


def test_formats_report_is_one_prediction_with_canonical_names(fixtures, context):
    (prediction,) = sample_records(fixtures, REPORT, context).predictions
    assert (prediction.model, prediction.platform, prediction.precision, prediction.batch_size) == (
        "resnet18",
        "jetson-orin-agx-64gb@30w",
        "fp32",
        1,
    )
    assert prediction.latency_ms == pytest.approx(8.242332550179507)
    assert prediction.energy_mj == pytest.approx(82.25462903481554)
    assert (prediction.predictor, prediction.predictor_version) == ("graphs", None)
    assert prediction.predicted_at == "2026-11-28T15:40:35.733800"


def test_formats_report_predictor_comes_from_metadata(fixtures, context, tmp_path):
    document = json.loads((fixtures / REPORT).read_text())
    document["metadata"].update(predictor="graphs-nightly", predictor_version="0.9.1")
    (tmp_path / "r.json").write_text(json.dumps(document))
    (prediction,) = sample_records(tmp_path, "r.json", context).predictions
    assert (prediction.predictor, prediction.predictor_version) == ("graphs-nightly", "0.9.1")


def test_formats_timestamps_with_an_offset_are_stored_as_utc(fixtures, context, tmp_path):
    path = variant(fixtures, tmp_path, REPORT, '"2026-11-28T15:40:35.733800"', '"2026-11-28T17:40:35+02:00"')
    (prediction,) = sample_records(tmp_path, path.name, context).predictions
    assert prediction.predicted_at == "2026-11-28T15:40:35"


def test_formats_verdict_has_prediction_and_predicted_subgraphs(fixtures, context):
    records = sample_records(fixtures, SAMPLES["graphs-verdict"], context)
    (prediction,) = records.predictions
    assert (prediction.model, prediction.precision, prediction.predictor_version) == ("resnet18", "fp32", "1.0.0")
    assert len(records.subgraphs) == 32
    first = records.subgraphs[0]
    assert (first.side, first.subgraph_id, first.ops, first.flops) == (
        "predicted",
        "0",
        "conv2d+batchnorm+relu",
        236027904,
    )
    assert sum(s.latency_ms for s in records.subgraphs) == pytest.approx(prediction.latency_ms, rel=1e-6)


def test_formats_batch_verdict_with_constraint_reads_passing_and_failing(fixtures, context):
    records = sample_records(fixtures, "graphs/verdict/batch_verdict_lat.json", context)
    assert [(p.batch_size, p.latency_ms) for p in records.predictions] == [(1, 8.242), (4, 12.868), (16, 20.499)]
    assert records.predictions[1].energy_mj == pytest.approx(4 * 36.5)  # whole batch, from per inference


def test_formats_csv_rows_are_predictions(fixtures, context):
    predictions = sample_records(fixtures, SAMPLES["graphs-csv"], context).predictions
    assert [(p.platform, p.batch_size, p.latency_ms, p.energy_mj) for p in predictions][:3] == [
        ("jetson-orin-agx-64gb@30w", 1, 8.24, 82.25),
        ("intel-i7-12700k", 1, 8.74, 771.78),
        ("jetson-orin-agx-64gb@30w", 4, 12.87, 146.0),
    ]


def test_formats_subgraph_csv_rows(fixtures, context):
    subgraphs = sample_records(fixtures, SAMPLES["graphs-subgraph-csv"], context).subgraphs
    assert len(subgraphs) == 32
    assert (subgraphs[1].subgraph_id, subgraphs[1].bytes, subgraphs[1].latency_ms) == ("1", 4014080, 0.115)


def test_formats_calibration_is_a_layerwise_measurement_with_power_mode(fixtures, context):
    records = sample_records(fixtures, SAMPLES["graphs-calibration"], context)
    (measured,) = records.measurements
    assert (measured.platform, measured.method, measured.conversion, measured.status, measured.device) == (
        "jetson-orin-agx-64gb@30w",
        "layerwise-sum",
        "EAGER",
        "ok",
        "cuda",
    )
    assert (measured.median, measured.std) == (pytest.approx(21.192695030048487), pytest.approx(1.2169313927815848))
    assert measured.measured_at == "2026-02-05T03:02:58.503879"
    assert len(records.subgraphs) == 32 and records.subgraphs[0].side == "measured"
    assert records.subgraphs[0].latency_std_ms == pytest.approx(0.25178996598367764)


def test_formats_calibration_50w_keeps_its_power_mode(fixtures, context):
    (measured,) = sample_records(
        fixtures, "graphs/calibration/jetson_orin_agx_50w/measurements/fp32/resnet18_b1.json", context
    ).measurements
    assert measured.platform == "jetson-orin-agx-64gb@50w"


def test_formats_manifest_lists_files_relative_to_itself(fixtures, context):
    includes = sample_records(fixtures, SAMPLES["graphs-calibration-manifest"], context).includes
    assert len(includes) == 45
    assert includes[0] == fixtures / "graphs/calibration/jetson_orin_agx_30w/measurements/bf16/efficientnet_b0_b1.json"


def test_formats_alma_latency_per_configured_batch(fixtures, context):
    measurements = {m.conversion: m for m in sample_records(fixtures, SAMPLES["alma-results"], context).measurements}
    eager = measurements["EAGER"]
    # 10 samples in batches of 4: 3 batches (4, 4, 2); Alma's own batch_size (2) is the last one's.
    assert eager.median == pytest.approx(0.9749611100000948 * 1000 / 3)
    assert (eager.n_iterations, eager.batch_size, eager.method, eager.status) == (3, 4, "alma", "ok")
    assert eager.throughput_sps == pytest.approx(10.256819372004518)  # the file's own figure
    assert (eager.model, eager.platform, eager.precision, eager.device) == (
        "resnet18",
        "intel-i7-12700k",
        "fp32",
        "cpu",
    )


def test_formats_alma_failed_conversion_keeps_its_message(fixtures, context):
    measurements = {
        m.conversion: m
        for m in sample_records(fixtures, "alma/alma_mobilenet_v3_small_cpu_b4.json", context).measurements
    }
    failed = measurements["COMPILE_CUDAGRAPHS"]
    assert (failed.status, failed.median) == ("failed", None)
    assert failed.message.startswith("Found no NVIDIA driver on your system.")
    broken = measurements["BF16+EAGER"]  # Alma says success; it never called the model
    assert (broken.precision, broken.status, broken.failure_kind, broken.median) == (
        "bf16",
        "failed",
        "known-broken",
        None,
    )
    assert broken.message.startswith("Alma reported success, but this conversion is known broken in Alma 0.3.7")


def test_formats_alma_batch_size_must_produce_the_last_batch(fixtures):
    path = fixtures / SAMPLES["alma-results"]  # 10 samples, last batch 2: batches of 4 (or 8), not 3
    with pytest.raises(InputError) as error:
        sample_records(
            fixtures, SAMPLES["alma-results"], Context(Names.load(), model="resnet18", platform="h200", batch_size=3)
        )
    assert str(error.value) == (
        f"{path}: batch_size = 3: 10 samples in batches of 3 end with a batch of 1, "
        "but JIT_TRACE.batch_size (the last batch) is 2"
    )


@pytest.mark.parametrize(
    "conversion, precision",
    [
        ("EAGER", "fp32"),
        ("FP16+COMPILE_CUDAGRAPHS", "fp16"),
        ("BF16+EAGER", "bf16"),
        ("EXPORT+AI8WI8_STATIC_QUANTIZED", "int8"),
        ("NATIVE_FAKE_QUANTIZED_AI8WI8_STATIC", "int8"),
        ("OPTIMUM_QUANTO_AI8WI8", "int8"),
        ("ONNX_CPU", "fp32"),
    ],
)
def test_formats_alma_conversion_implies_precision(conversion, precision):
    assert precision_of(conversion) == precision
