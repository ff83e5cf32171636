"""One run's measurements as `parity compare` reads them, for both of its halves: the cells it
classifies (reporter.compare) and the measurements it scores predictions against
(reporter.prediction_shifts). One definition, so that the two halves always see the same rows.
"""

from __future__ import annotations

from reporter.views import NEWEST_OF_SERIES

# The run's newest measurement of each series of the methods compared (named parameters $run_id,
# $methods, a list): a cell measured twice in one run counts once, as in the store's `latest` view.
RUN_CELLS = f"""
    SELECT * FROM measurements WHERE run_id = $run_id AND list_contains($methods, method) {NEWEST_OF_SERIES}"""
