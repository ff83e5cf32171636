"""One canonical key per thing: model, platform (with power mode) and precision names.

The alias tables ship in `data/`; users extend the platform table with `--platform-map FILE`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collectors.errors import InputError, ParityError

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
PRECISIONS = ("fp32", "fp16", "bf16", "int8", "tf32")
PLATFORM_MAP_KEYS = ("aliases", "default_power_modes", "proxies")


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
    def load(cls, platform_map: Path | None = None) -> Names:
        """The shipped tables, extended by `platform_map` (same shape as data/platforms.json)."""
        platforms, models = _load("platforms.json"), _load("models.json")
        if platform_map is not None:
            extra = read_platform_map(platform_map)
            for key in PLATFORM_MAP_KEYS:
                platforms[key] = {**platforms[key], **extra.get(key, {})}
        names = cls(
            platform_aliases={_fold(k): v for k, v in platforms["aliases"].items()},
            default_power_modes=platforms["default_power_modes"],
            proxies={},
            model_aliases={_fold(k): v for k, v in models["aliases"].items()},
            builders=frozenset(models["builders"]),
        )
        # Both sides of a proxy are names like any other: `"h200": "H100"` means the canonical slugs.
        names.proxies = {names.platform(k): names.platform(v) for k, v in platforms["proxies"].items()}
        return names

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

        `name` may carry its power mode (`Jetson-Orin-AGX@50W`); `power_mode` comes from the
        content (a calibration file's thermal_profile, nvpmodel). Without either, the device's
        default mode applies, as graphs' prediction files assume. Raises BadPlatform for an empty
        name, a malformed power mode, or two different modes.
        """
        base, at, named_mode = name.partition("@")
        if not _fold(base):
            raise BadPlatform(f"platform {name!r}: empty name")
        slug = self.platform_aliases.get(_fold(base), platform_slug(base))
        device, _, alias_mode = slug.partition("@")
        given = [alias_mode or None, named_mode if at else None, power_mode or None]
        modes = {power_mode_slug(mode) for mode in given if mode is not None}
        if len(modes) > 1:
            raise BadPlatform(f"platform {name!r}: two power modes ({', '.join(sorted(modes))})")
        mode = modes.pop() if modes else self.default_power_modes.get(device)
        return f"{device}@{mode}" if mode else device


class BadPlatform(ParityError, ValueError):
    """A platform name or power mode that cannot be one canonical slug."""


def platform_slug(name: str) -> str:
    return _fold(name)


def power_mode_slug(mode: str) -> str:
    """`30W`, `MODE_30W` (nvpmodel -q) and `30w` are one power mode: `30w`; `MAXN` is `maxn`.
    Anything but watts or MAXN (with nvpmodel's suffixes, e.g. `MODE_15W_6CORE`) is refused."""
    slug = re.sub(r"^mode-", "", _fold(mode))
    if not re.fullmatch(r"(\d+w|maxn)(-[a-z0-9]+)*", slug):
        raise BadPlatform(f"power mode {mode!r}: expected watts (30W, MODE_30W) or MAXN")
    return slug


def precision(path: Path | str, field_name: str, value: Any) -> str:
    """`FP32`/`fp32`/`float16`... as one of PRECISIONS, else an InputError."""
    text = str(value).strip().lower()
    text = {"float32": "fp32", "float16": "fp16", "half": "fp16", "bfloat16": "bf16", "float": "fp32"}.get(text, text)
    if text not in PRECISIONS:
        raise InputError(path, field_name, value, f"unknown precision (expected one of {', '.join(PRECISIONS)})")
    return text


def read_platform_map(path: Path) -> dict[str, Any]:
    """A user's platform map: JSON with any of `aliases`, `default_power_modes`, `proxies`, each an
    object of name to name. Anything else is refused, so a typo never passes silently."""
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InputError(path, "platform map", str(path), f"cannot read: {error}") from None
    if not isinstance(document, dict):
        raise InputError(path, "platform map", type(document).__name__, "expected a JSON object")
    for key, table in document.items():
        if key not in PLATFORM_MAP_KEYS and not key.startswith("_"):
            raise InputError(path, key, table, f"unknown key (expected {', '.join(PLATFORM_MAP_KEYS)})")
        if key.startswith("_"):
            continue
        if not isinstance(table, dict):
            raise InputError(path, key, table, "expected an object of name: name")
        for name, value in table.items():
            if not isinstance(value, str) or not value.strip():
                raise InputError(path, f"{key}.{name}", value, "expected a non-empty name")
    return document
