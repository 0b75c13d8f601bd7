"""What kind of style a preset is (its `method` in the worker's preset list), and what follows:
which styles mix with which, which are read from a style image (so a style size and Refine apply),
and the groups the Krita gallery and the GIMP dialog show the presets in.

Standard library only: the engine and both plug-ins decide these the same way, from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import naming

NETWORK = "network"  # a feed-forward network of its own: no style image, nothing to mix
ARBITRARY = "arbitrary"  # a painting through Magenta's arbitrary-style network, as a style image is
MULTISTYLE = "multistyle"  # one of the 26 styles of one network (Dumoulin et al.): mixes with the other 25


@dataclass(frozen=True)
class Group:
    """A heading the presets of one method are shown under."""

    method: str
    title: str
    description: str  # a tooltip line for each of its presets


GROUPS = (
    Group(NETWORK, "Networks", "Fast feed-forward network, one per style"),
    Group(ARBITRARY, "Paintings", "A painting, carried over by Magenta's arbitrary-style network"),
    Group(MULTISTYLE, "Looks", "One of 26 looks of one small network (Dumoulin et al.); looks mix with each other"),
)


def group_of(method: str | None) -> Group | None:
    return next((g for g in GROUPS if g.method == method), None)


def grouped(presets: Iterable[Mapping[str, Any]]) -> list[tuple[Group, list[Mapping[str, Any]]]]:
    """The presets under their groups, in the groups' order and their own (a group with none is left
    out); presets of a method this version does not know come last, under a group of that name."""
    groups: dict[str, tuple[Group, list[Mapping[str, Any]]]] = {g.method: (g, []) for g in GROUPS}
    for preset in presets:
        method = str(preset.get("method") or "other")
        if method not in groups:
            groups[method] = (Group(method, method.replace("_", " ").capitalize(), method), [])
        groups[method][1].append(preset)
    return [entry for entry in groups.values() if entry[1]]


def method_of(style: str, presets: Iterable[Mapping[str, Any]]) -> str | None:
    """The method of a style as a plug-in names it: ARBITRARY for a style image's path (it is read as
    a painting is), a preset's own, or None for a name the worker did not list."""
    if naming.is_style_path(style):
        return ARBITRARY
    for preset in presets:
        if preset.get("name") == style:
            return str(preset.get("method") or "") or None
    return None


def has_style_image(method: str | None) -> bool:
    """Read from a picture (a painting preset, a style image): the style size and Refine apply.
    A method None (a preset no list describes) counts as one: the engine, which knows every preset,
    refuses what it must."""
    return method is None or method == ARBITRARY


def mixes(method: str | None) -> bool:
    """Whether a style of this method can be part of a mix at all (with others of its method)."""
    return method in (ARBITRARY, MULTISTYLE)


def mix_refusal(styles: Sequence[tuple[str, str | None]]) -> str | None:
    """The one-line reason why these (label, method) styles cannot be mixed, or None.

    A network preset is a network per style, with nothing to blend. Paintings and style images mix
    as Magenta style vectors; the 26 looks as the 26-value style vector of their own network: the two
    kinds are different networks, so a mix is of one kind. A method None (a name no list describes)
    is left to the engine, which knows every preset."""
    if len(styles) < 2:
        return None
    for label, method in styles:
        if method == NETWORK:
            return (
                f"{label} is a network preset, and network presets cannot be mixed: mix painting presets "
                f"and style images, or looks with looks, or use {label} alone."
            )
    known = [(label, method) for label, method in styles if method is not None]
    looks = [label for label, method in known if method == MULTISTYLE]
    if looks and len(looks) < len(known):
        other = next(label for label, method in known if method != MULTISTYLE)
        return (
            f"{looks[0]} is one of the 26 looks of one network and {other} is read as a painting, by another "
            "network: mix looks with looks, or paintings and style images with each other."
        )
    return None
