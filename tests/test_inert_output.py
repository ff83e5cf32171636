"""User-supplied names in what Parity writes: inert Markdown for pull-request comments (no links,
mentions, issue references or bidi tricks on GitHub) and HTML without control characters."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collectors.records import Measurement
from reporter import formatting
from reporter.analysis import load_site
from reporter.compare import compare_runs
from reporter.compare_formats import RENDERERS
from reporter.render import render_single_file, render_site, summary_markdown
from reporter.store import Store
from tests.builders import measurement, prediction, run_info

# A URL, a mention, an issue reference, a right-to-left override, backticks, a table pipe, a bidi
# isolate and a C1 control.
MODEL = "net https://evil.example/x @octocat #123 \u202egnp.exe `a``b` c|d \u2066iso\x85"
PLATFORM = "www.evil.example"
LABEL = "night @octocat"
# What GitHub turns into a link or a notification, or what reorders the text around it.
ACTIVE = ("https://", "www.", "@octocat", "#123", "\u202e")
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")


# Written out here, not taken from collectors.text: the oracle must not change with the code under test.
HIDDEN = "\x00\x07\x85\u202e\u2066"  # a C0 and a C1 control, a bidi override and an isolate


def _hidden(text: str) -> list[str]:
    return [character for character in HIDDEN if character in text]


def _outside_code(markdown: str) -> str:
    return CODE_SPAN.sub("", markdown)


def _measurement(model: str, conversion: str, centre: float) -> Measurement:
    values = tuple(centre * (1 + 0.001 * (i % 7)) for i in range(30))
    return measurement(
        model=model,
        platform=PLATFORM,
        conversion=conversion,
        device="cpu",
        measured_at="2026-11-28T02:00:00",
        median=sorted(values)[15],
        samples=values,
    )


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "parity.duckdb"
    with Store.open(path) as store, store.atomic():
        for day, (run_id, scale) in enumerate((("r1", 1.0), ("r2", 1.5)), start=1):
            store.add_run(
                run_info(
                    run_id,
                    started_at=f"2026-11-0{day}T02:00:00",
                    finished_at=f"2026-11-0{day}T03:00:00",
                    platform=PLATFORM,
                    label=LABEL if run_id == "r2" else None,
                    environment={"torch_version": "https://evil.example/torch" if run_id == "r2" else "2.11"},
                )
            )
            store.add_measurements([_measurement(MODEL, c, 10.0 * scale) for c in ("EAGER", "ONNX_CPU")], run_id, None)
        store.add_predictions(
            [prediction(model=MODEL, platform=PLATFORM, latency_ms=12.0, predictor_version="@octocat 1.0")], "src"
        )
    return path


def test_summary_markdown_keeps_user_names_in_code_spans(hostile_db):
    with Store.open(hostile_db, read_only=True) as store:
        text = summary_markdown(store)
    outside = _outside_code(text)
    assert [token for token in ACTIVE if token in outside] == []
    assert _hidden(text) == []
    assert formatting.markdown_code(MODEL, in_table=True) in text


def test_compare_markdown_keeps_user_names_in_code_spans(hostile_db):
    with Store.open(hostile_db, read_only=True) as store:
        text = RENDERERS["markdown"].render(compare_runs(store, "r1", "r2"), None)
    assert "@octocat" in text and "https://evil.example/torch" in text  # shown, but only as code
    outside = _outside_code(text)
    assert [token for token in ACTIVE if token in outside] == []
    assert _hidden(text) == []
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    pipes = {len(re.findall(r"(?<!\\)\|", row)) for row in rows if "class" in row or "regressed" in row}
    assert len(pipes) == 1  # the pipe in the name is escaped: every row has as many cells as its header


@pytest.mark.parametrize(
    "value, code",
    [
        ("plain", "`plain`"),
        ("a`b", "``a`b``"),
        ("`start", "`` `start ``"),
        (" both ", "`  both  `"),
        ("a|b", "`a|b`"),
        ("line\nbreak", "`line break`"),
        ("rtl\u202eoverride\x00", "`rtl\\u202eoverride\\u0000`"),
    ],
)
def test_markdown_code_is_one_code_span_showing_the_value(value, code):
    assert formatting.markdown_code(value) == code


def test_markdown_code_in_a_table_escapes_the_pipe():
    assert formatting.markdown_code("a|b", in_table=True) == "`a\\|b`"


def test_html_report_shows_control_characters_as_escapes(tmp_path):
    with Store.open(tmp_path / "parity.duckdb") as store, store.atomic():
        store.add_predictions(
            [prediction(model="nul\x00model\u202ertl\u2066\x85", platform="cpu", predictor_version="v\x07")], "src"
        )
    with Store.open(tmp_path / "parity.duckdb", read_only=True) as store:
        site = load_site(store)
    render_site(site, tmp_path / "site")
    pages = [path.read_text(encoding="utf-8") for path in (tmp_path / "site").rglob("*.html")]
    single = render_single_file(site, tmp_path / "one.html").read_text(encoding="utf-8")
    pages.append(re.sub(r"<script>.*?</script>", "", single, flags=re.DOTALL))  # Plotly's own code inlined
    for page in pages:
        assert _hidden(page) == []
    assert any("nul\\u0000model\\u202ertl\\u2066\\u0085" in page for page in pages)


def test_plotly_text_shows_control_characters_as_escapes():
    assert formatting.plotly_text("<b>x</b>\x00\u202e") == "&lt;b&gt;x&lt;/b&gt;\\u0000\\u202e"
