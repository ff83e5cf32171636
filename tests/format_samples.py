"""The real samples of each input format, and the two ways the format tests read them: as records,
and as a variant with one value changed."""

from __future__ import annotations

from pathlib import Path

from collectors.formats import Context, Document, detect

# One real sample per format module, relative to the fixtures folder (Parity's own bundle is
# written by Parity, below). A new format module needs an entry here:
# test_formats_every_module_has_a_sample fails until it has one.
SAMPLES = {
    "parity-bundle": "written by collectors.bundle.write_bundle",
    "parity-journal": "written by collectors.journal.Journal",
    "graphs-report": "graphs/predictions/resnet18__Jetson-Orin-AGX__fp32__b1.json",
    "graphs-verdict": "graphs/verdict/resnet18_orin_verdict.json",
    "graphs-batch-verdict": "graphs/verdict/batch_verdict.json",
    "graphs-calibration": "graphs/calibration/jetson_orin_agx_30w/measurements/fp32/resnet18_b1.json",
    "graphs-calibration-manifest": "graphs/calibration/jetson_orin_agx_30w/manifest.json",
    "alma-results": "alma/alma_resnet18_cpu_b4_n10.json",
    "graphs-subgraph-csv": "graphs/csv/resnet18_orin_sg.csv",
    "graphs-csv": "graphs/csv/batch.csv",
}
REPORT = SAMPLES["graphs-report"]


def sample_records(fixtures: Path, relative: str, context: Context):
    """The records the format that recognises the file makes of it."""
    doc = Document.read(fixtures / relative)
    return detect(doc).to_records(doc, context)


def variant(fixtures: Path, tmp_path: Path, relative: str, old: str, new: str) -> Path:
    """A copy of a sample with its first `old` replaced by `new`."""
    text = (fixtures / relative).read_text()
    assert old in text
    path = tmp_path / "variant.json"
    path.write_text(text.replace(old, new, 1))
    return path
