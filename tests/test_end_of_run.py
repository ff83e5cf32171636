"""What `parity bench` prints at its end (reporter.bench_summary): where each cell's time went."""

from __future__ import annotations

from reporter.bench_summary import end_of_run
from tests.builders import measurement


def test_time_table_totals_agree_when_a_record_carries_an_unknown_phase():
    # A phase the summary does not list (a newer worker's) still counts the same in both totals.
    cells = [
        measurement(model="a", phase_s={"build": 1.0, "timing": 2.0, "unpacking": 4.0}),
        measurement(model="b", phase_s={"build": 0.5}),
    ]
    header, _, *rows, count = end_of_run(cells).split("where the time went (seconds)\n")[1].splitlines()
    assert {row.split()[0]: float(row.split()[-1]) for row in rows} == {"a": 7.0, "b": 0.5, "all": 7.5}
    assert header.split() == ["model", "conversion", "batch", "build", "timing", "unpacking", "total"]
    assert count == "(3 rows)"
