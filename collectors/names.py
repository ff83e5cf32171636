"""One canonical key per thing: model, platform (with power mode) and precision names.

The alias tables ship in `data/`; users extend the platform table with `--platform-map FILE`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collectors.errors import InputError, ParityError
from collectors.values import plain_name

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
        """The shipped tables, extended by `platform_map` (same shape as data/platforms.json). Both
        are read by read_platform_map: a user's names are normalised and checked as the shipped
        ones are. Raises InputError naming a bad entry of the map."""
        tables = [
            (path, read_platform_map(path))
            for path in (DATA_DIR / "platforms.json", *([platform_map] if platform_map else []))
        ]
        models = _load("models.json")
        names = cls(
            platform_aliases={k: v for _, table in tables for k, v in table["aliases"].items()},
            default_power_modes={k: v for _, table in tables for k, v in table["default_power_modes"].items()},
            proxies={},
            model_aliases={_fold(k): v for k, v in models["aliases"].items()},
            builders=frozenset(models["builders"]),
        )
        # Both sides of a proxy are names like any other: `"h200": "H100"` means the canonical slugs.
        names.proxies = {
            names._proxy_side(path, k): names._proxy_side(path, v)
            for path, table in tables
            for k, v in table["proxies"].items()
        }
        return names

    def _proxy_side(self, path: Path, name: str) -> str:
        try:
            return self.platform(name)
        except BadPlatform as error:
            raise InputError(path, "proxies", name, str(error)) from None

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


def read_platform_map(path: Path) -> dict[str, dict[str, str]]:
    """A platform map: JSON with any of `aliases`, `default_power_modes`, `proxies`, each an object
    of name to name, with its names canonical: alias keys folded, alias targets platform slugs (a
    power mode after '@' in its canonical spelling), default power modes keyed by device slug, and
    proxies checked to be names (they go through the aliases when Names are built). Anything else
    is refused with an InputError naming the entry, so a typo never passes silently."""
    document = _map_document(path)
    aliases, modes, proxies = (document.get(key, {}) for key in PLATFORM_MAP_KEYS)
    return {
        "aliases": {
            _entry(path, "aliases", k, _slug): _entry(path, f"aliases.{k}", v, _platform_and_mode)
            for k, v in aliases.items()
        },
        "default_power_modes": {
            _entry(path, "default_power_modes", k, _slug): _entry(path, f"default_power_modes.{k}", v, power_mode_slug)
            for k, v in modes.items()
        },
        "proxies": {
            _entry(path, "proxies", k, _named): _entry(path, f"proxies.{k}", v, _named) for k, v in proxies.items()
        },
    }


def _map_document(path: Path) -> dict[str, Any]:
    """The map's JSON: an object of the known tables (or `_comment`-style keys), each of name: name."""
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
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


def _entry(path: Path, field_name: str, text: str, canonical: Callable[[str], str]) -> str:
    """`text` of a platform map in its canonical form, else an InputError naming the entry."""
    try:
        return canonical(plain_name(text))
    except ValueError as error:  # BadPlatform too
        raise InputError(path, field_name, text, str(error)) from None


def _slug(text: str) -> str:
    folded = _fold(text)
    if not re.search(r"[a-z0-9]", folded):
        raise ValueError("not a name (no letter or digit)")
    return folded


def _named(text: str) -> str:
    _slug(text)
    return text


def _platform_and_mode(text: str) -> str:
    base, at, mode = text.partition("@")
    return f"{_slug(base)}@{power_mode_slug(mode)}" if at else _slug(base)
