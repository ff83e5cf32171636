"""Input formats, bad input: one line naming the file, the field (with its index or row) and the
value, for a bad value, unreadable content, Alma results without their flags, a zero time, a
manifest entry that is missing; and each document parsed once."""

from __future__ import annotations

import json
import math

import pytest

from collectors.errors import InputError
from collectors.formats import FORMATS, Context, Document, detect
from collectors.names import Names
from tests.format_samples import REPORT, SAMPLES, sample_records, variant


@pytest.mark.parametrize(
    "old, new, message",
    [
        (
            '"latency_ms": 8.242332550179507',
            '"latency_ms": -3.5',
            "derived_metrics.latency_ms = -3.5: expected a positive number",
        ),
        (
            '"latency_ms": 8.242332550179507',
            '"latency_ms": NaN',
            "derived_metrics.latency_ms = nan: expected a finite number",
        ),
        (
            '"latency_ms": 8.242332550179507',
            '"latency_ms": "8.24"',
            "derived_metrics.latency_ms = '8.24': expected a number",
        ),
        (
            '"precision": "FP32"',
            '"precision": "FP8"',
            "metadata.precision = 'FP8': unknown precision (expected one of fp32, fp16, bf16, int8, tf32)",
        ),
        ('"batch_size": 1', '"batch_size": 0', "metadata.batch_size = 0: expected a positive number"),
        ('"batch_size": 1', '"batch_size": 1e99', "metadata.batch_size = 1e+99: expected an integer"),
        ('"batch_size": 1', '"batch_size": 4294967296', "metadata.batch_size = 4294967296: too large"),
        (
            '"timestamp": "2026-11-28T15:40:35.733800"',
            '"timestamp": "yesterday"',
            "metadata.timestamp = 'yesterday': Invalid isoformat string: 'yesterday'",
        ),
        ('"hardware": "Jetson-Orin-AGX-64GB",', "", "metadata.hardware = None: missing"),
    ],
)
def test_formats_bad_report_value_is_one_line_naming_field_and_value(fixtures, context, tmp_path, old, new, message):
    path = variant(fixtures, tmp_path, REPORT, old, new)
    with pytest.raises(InputError) as caught:
        sample_records(tmp_path, path.name, context)
    assert str(caught.value) == f"{path}: {message}"


def test_formats_bad_value_deep_in_a_list_names_its_index(fixtures, context, tmp_path):
    path = variant(fixtures, tmp_path, "graphs/verdict/batch_verdict.json", '"latency_ms": 12.868', '"latency_ms": -1')
    with pytest.raises(InputError, match=r"configs\[1\]\.latency_ms = -1: expected a positive number$"):
        sample_records(tmp_path, path.name, context)


def test_formats_bad_csv_cell_names_its_row(fixtures, context, tmp_path):
    path = tmp_path / "batch.csv"
    path.write_text((fixtures / SAMPLES["graphs-csv"]).read_text().replace(",8.74,", ",fast,"))
    with pytest.raises(InputError) as caught:
        sample_records(tmp_path, path.name, context)
    assert str(caught.value) == f"{path}: row 3.latency_ms = 'fast': expected a number"


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "content = '': empty file"),
        (b"  \n", "content = '': empty file"),
        (
            b'{"metadata": {"model": "ResNet-18", ',
            "JSON = 'line 1 column 36': truncated or invalid JSON (EOF while parsing a value)",
        ),
        (
            b'{"hello": 1}',
            "top-level keys = ['hello']: unknown format (not one of: " + ", ".join(m.NAME for m in FORMATS) + ")",
        ),
        (
            b"[1, 2]",
            "top-level value = 'list': unknown format (not one of: " + ", ".join(m.NAME for m in FORMATS) + ")",
        ),
        (b"\x89PNG\r\n\x1a\n\x00", "content = b'\\x89PNG\\r\\n\\x1a\\n\\x00': not UTF-8 text (binary file?)"),
    ],
)
def test_formats_unreadable_content_is_one_line(tmp_path, content, message):
    path = tmp_path / "input.json"
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        detect(Document.read(path))
    assert str(caught.value) == f"{path}: {message}"


def test_formats_alma_without_flags_is_refused_clearly(fixtures):
    path = fixtures / SAMPLES["alma-results"]
    with pytest.raises(InputError) as caught:
        sample_records(fixtures, SAMPLES["alma-results"], Context(Names.load(), model="resnet18"))
    assert str(caught.value) == (
        f"{path}: platform = None: Alma results name no model, platform or batch size: give all three"
    )


def test_formats_alma_batch_size_must_be_positive(fixtures):
    path = fixtures / SAMPLES["alma-results"]
    with pytest.raises(InputError) as caught:
        sample_records(
            fixtures, SAMPLES["alma-results"], Context(Names.load(), model="resnet18", platform="h200", batch_size=0)
        )
    assert str(caught.value) == f"{path}: batch_size = 0: expected a positive number"


def test_formats_alma_zero_time_names_the_conversion(fixtures, context, tmp_path):
    path = variant(
        fixtures, tmp_path, SAMPLES["alma-results"], '"total_inf_time": 0.9749611100000948', '"total_inf_time": 0'
    )
    with pytest.raises(InputError, match=r"EAGER\.total_inf_time = 0: expected a positive number$"):
        sample_records(tmp_path, path.name, context)


def test_formats_manifest_with_missing_file_names_the_entry(fixtures, context, tmp_path):
    manifest = json.loads((fixtures / SAMPLES["graphs-calibration-manifest"]).read_text())
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))  # its files are not beside this copy
    with pytest.raises(InputError) as caught:
        sample_records(tmp_path, "manifest.json", context)
    assert str(caught.value) == (
        f"{tmp_path / 'manifest.json'}: measurements[0].file = "
        "'measurements/bf16/efficientnet_b0_b1.json': no such file or directory"
    )


def test_formats_document_is_parsed_once(fixtures):
    doc = Document.read(fixtures / REPORT)
    detect(doc)
    assert doc.json is doc.json  # cached: every format's `recognise` saw the same parse
    assert math.isclose(doc.json["derived_metrics"]["latency_ms"], 8.242332550179507)
