"""One canonical key per thing: model, platform (with power mode) and precision names.

The alias tables ship in `data/`; users extend the platform table with `--platform-map FILE`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collectors.errors import InputError

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
PRECISIONS = ("fp32", "fp16", "bf16", "int8", "tf32")


def _fold(text: str) -> str:
    """Lowercase, every run of punctuation or spaces becomes one '-'."""
    return re.sub(r"[^a-z0-9@]+", "-", text.strip().lower()).strip("-")


def _load(name: str) -> dict[str, Any]:
    return json.loads((DATA_DIR / name).read_text())


@dataclass
class Names:
    """Normalises names; one instance per command, built from the shipped tables plus a user map."""

    platform_aliases: dict[str, str]
    default_power_modes: dict[str, str]
    proxies: dict[str, str]
    model_aliases: dict[str, str]
    builders: frozenset[str]
    _folded_builders: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self._folded_builders = {}
        for builder in self.builders:
            self._folded_builders.setdefault(_fold(builder), builder)
            self._folded_builders.setdefault(builder.replace("_", ""), builder)

    @classmethod
    def load(cls, platform_map: Path | None = None) -> "Names":
        """The shipped tables, extended by `platform_map` (same shape as data/platforms.json)."""
        platforms, models = _load("platforms.json"), _load("models.json")
        if platform_map is not None:
            extra = read_platform_map(platform_map)
            for key in ("aliases", "default_power_modes", "proxies"):
                platforms[key] = {**platforms[key], **extra.get(key, {})}
        return cls(
            platform_aliases={_fold(k): v for k, v in platforms["aliases"].items()},
            default_power_modes=platforms["default_power_modes"],
            proxies={platform_slug(k): platform_slug(v) for k, v in platforms["proxies"].items()},
            model_aliases={_fold(k): v for k, v in models["aliases"].items()},
            builders=frozenset(models["builders"]),
        )

    def model(self, name: str) -> str:
        """The torchvision builder name for `name`, or `name` itself when none matches."""
        folded = _fold(name)
        if folded in self.model_aliases:
            return self.model_aliases[folded]
        for candidate in (name, folded.replace("-", "_"), folded.replace("-", "")):
            if candidate in self.builders:
                return candidate
        return self._folded_builders.get(folded, name)

    def platform(self, name: str, power_mode: str | None = None) -> str:
        """The canonical slug, with the power mode after '@' where the device has modes.

        `power_mode` comes from the content (a calibration file's thermal_profile); without it the
        device's default mode applies, as graphs' prediction files assume.
        """
        slug = self.platform_aliases.get(_fold(name), platform_slug(name))
        device, _, mode = slug.partition("@")
        wanted = power_mode_slug(power_mode) if power_mode else None
        if mode and wanted and mode != wanted:
            raise ValueError(f"platform {name!r} says power mode {mode} but the file says {power_mode}")
        mode = mode or wanted or self.default_power_modes.get(device)
        return f"{device}@{mode}" if mode else device


def platform_slug(name: str) -> str:
    return _fold(name)


def power_mode_slug(mode: str) -> str:
    """`30W`, `MODE_30W` (nvpmodel -q) and `30w` are one power mode: `30w`; `MAXN` is `maxn`."""
    return re.sub(r"^mode-", "", _fold(mode))


def precision(path: Path | str, field_name: str, value: Any) -> str:
    """`FP32`/`fp32`/`float16`... as one of PRECISIONS, else an InputError."""
    text = str(value).strip().lower()
    text = {"float32": "fp32", "float16": "fp16", "half": "fp16", "bfloat16": "bf16", "float": "fp32"}.get(text, text)
    if text not in PRECISIONS:
        raise InputError(path, field_name, value, f"unknown precision (expected one of {', '.join(PRECISIONS)})")
    return text


def read_platform_map(path: Path) -> dict[str, Any]:
    """A user's platform map: JSON with any of `aliases`, `default_power_modes`, `proxies`."""
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InputError(path, "platform map", str(path), f"cannot read: {error}") from None
    if not isinstance(document, dict):
        raise InputError(path, "platform map", type(document).__name__, "expected a JSON object")
    for key in ("aliases", "default_power_modes", "proxies"):
        if not isinstance(document.get(key, {}), dict):
            raise InputError(path, key, document[key], "expected an object of name: name")
    return document
