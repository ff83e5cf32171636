"""A measured series beside its twin, the same series timed by another method: caller latency
split into the device's own time and the host's overhead, and Alma's own figure beside Parity's.

Paired once for the whole site's newest measurements (a merge per model page cost more than the
rest of the page's context); a page takes its rows with `Twins.of_page`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from collectors.vocabulary import ALMA, DEVICE_BUSY, OK, SERIES, SYNCED_E2E

TWIN_KEYS = [key for key in SERIES if key != "method"]  # a series and its twin differ by method only


@dataclass(frozen=True)
class Twins:
    split: pd.DataFrame  # TWIN_KEYS, caller_ms, device_ms, host_ms
    alma_vs_parity: pd.DataFrame  # TWIN_KEYS, alma_ms, parity_ms, alma_over_parity

    @classmethod
    def pair(cls, latest: pd.DataFrame) -> Twins:
        """The twins among `latest`'s ok measurements."""
        ok = latest[latest["status"] == OK]
        return cls(split=host_device_split(ok), alma_vs_parity=alma_vs_parity(ok))

    def of_page(self, model: str, platforms: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The split and the Alma rows of `model` on `platforms` (a page's own and its proxies'), in
        key order; the page fixes the model, so the Alma rows leave its column out."""
        split, alma = (_rows_of(frame, model, platforms) for frame in (self.split, self.alma_vs_parity))
        return split, alma.drop(columns="model")


def host_device_split(latencies: pd.DataFrame) -> pd.DataFrame:
    """Per series timed by Parity with a device-busy twin: caller latency = device time + host
    overhead (launches, Python, synchronisation), the split a roofline prediction needs."""
    both = _paired(latencies, (SYNCED_E2E, "caller_ms"), (DEVICE_BUSY, "device_ms"))
    both["host_ms"] = (both["caller_ms"] - both["device_ms"]).clip(lower=0)
    return both


def alma_vs_parity(latencies: pd.DataFrame) -> pd.DataFrame:
    """Alma's own figure beside Parity's synced end-to-end figure of the same series."""
    both = _paired(latencies, (ALMA, "alma_ms"), (SYNCED_E2E, "parity_ms"))
    both["alma_over_parity"] = both["alma_ms"] / both["parity_ms"]
    return both


def _paired(latencies: pd.DataFrame, *methods: tuple[str, str]) -> pd.DataFrame:
    """The median of each series measured by both `methods` ((method, column name) each), sorted by TWIN_KEYS."""
    first, second = (
        latencies.loc[latencies["method"] == method, [*TWIN_KEYS, "median"]].rename(columns={"median": name})
        for method, name in methods
    )
    return (
        first.merge(second, on=TWIN_KEYS, how="inner").sort_values(TWIN_KEYS, kind="mergesort").reset_index(drop=True)
    )


def _rows_of(frame: pd.DataFrame, model: str, platforms: list[str]) -> pd.DataFrame:
    # A filter keeps the frame's key order, which is the order a page's own pairing had.
    return frame[(frame["model"] == model) & frame["platform"].isin(platforms)].reset_index(drop=True)
