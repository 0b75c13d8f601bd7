"""The model catalog (`resources/models.toml`) and the preset list (`resources/presets.toml`)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .errors import UnknownStyleError


@dataclass(frozen=True)
class ModelEntry:
    name: str
    display_name: str
    method: str
    url: str
    mirror_path: str
    sha256: str
    size: int
    converter: str
    licence: str
    attribution: str


@dataclass(frozen=True)
class Preset:
    name: str
    display_name: str
    method: str
    models: tuple[str, ...] = field(default_factory=tuple)  # what it needs installed, its network last
    index: int | None = None  # method "multistyle": which of the network's styles it is (0-based)

    @property
    def network(self) -> str:
        """The model that paints it: its own network, or the one it shares (Magenta's transformer)."""
        return self.models[-1]


def _read(filename: str) -> dict:
    text = resources.files("painterly_resources").joinpath(filename).read_text("utf-8")
    return tomllib.loads(text)


@lru_cache(maxsize=1)
def models() -> dict[str, ModelEntry]:
    return {name: ModelEntry(name=name, **fields) for name, fields in _read("models.toml")["models"].items()}


@lru_cache(maxsize=1)
def presets() -> dict[str, Preset]:
    result = {}
    for name, fields in _read("presets.toml")["presets"].items():
        result[name] = Preset(
            name, fields["display_name"], fields["method"], tuple(fields["models"]), fields.get("index")
        )
    return result


def model(name: str) -> ModelEntry:
    try:
        return models()[name]
    except KeyError:
        known = ", ".join(sorted(models()))
        raise UnknownStyleError(f"unknown model '{name}'; the catalog has: {known}") from None


def preset(name: str) -> Preset:
    try:
        return presets()[name]
    except KeyError:
        known = ", ".join(sorted(presets()))
        raise UnknownStyleError(
            f"unknown style '{name}': use one of the presets ({known}) or the path of an image"
        ) from None
