"""`StylizeOptions`: the one typed request from a dialog (or the command line) to `Stylizer.stylize`.

The panel, the Krita and GIMP plug-ins, the client, the protocol and the worker pass this
object along unchanged; only its two ends look inside (`to_header` on the editor side,
`from_header` in the worker, `engine_arguments` for the engine). A new option is added
here, once: a field, its check in `problems`, and the engine's parameter of that name.

Standard library only: it runs inside the editors' own Python.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

DEFAULT_STYLE = "candy"
DEFAULT_STRENGTH = 1.0
DEFAULT_STYLE_SIZE = 256  # the size the Magenta style predictor was trained at
MIN_STYLE_SIZE, MAX_STYLE_SIZE = 64, 1024
MIN_SIDE = 16  # the network's reflection pads need a few pixels at quarter resolution
MIN_TILE, MAX_TILE = 128, 8192  # a 1-pixel tile took 85 s instead of 2 s; 8192 is already ~40 GB of activations
MAX_STYLE_CHARS = 4096  # a preset name or a path; longer is not one
MAX_STYLES = 16  # more styles than this in one mix is not a mix anyone can tell apart
#: brush size 100 %: the strokes have the size they have when the picture is this long on its long side
REFERENCE_SIDE = 1024
DEFAULT_BRUSH_SIZE = 100
MIN_BRUSH_SIZE, MAX_BRUSH_SIZE = 25, 400  # 25 %: the network at 4096 px (16 MP of work); 400 %: at 256 px
NATIVE = "native"  # the brush size that runs the network at the picture's own size
MAX_PIXEL_SCALE = 1024.0  # a preview stands for a layer at most this many times larger
MIN_PIXEL_SCALE = 1.0 / MAX_PIXEL_SCALE
#: Refine (the optimization method) takes this many steps unless told otherwise
DEFAULT_REFINE_STEPS = 100
MAX_REFINE_STEPS = 5000  # 5000 steps is hours here; more is a mistake, not a wish
#: a sequence's frames: how much of the last result is carried into the next frame where the motion is
#: trusted (0: each frame alone); at 1 the first frame's strokes would never give way to new content
DEFAULT_STABILITY, MAX_STABILITY = 0.7, 0.95


class OptionsError(ValueError):
    """Options that cannot be used; the message says which and why, in one line."""


@dataclass(frozen=True)
class StylizeOptions:
    #: a preset name or a style image path, or several of them to mix (painting presets and images)
    styles: tuple[str, ...] = (DEFAULT_STYLE,)
    #: one weight per style when mixing (None: equal); they need not sum to 1
    weights: tuple[float, ...] | None = None
    #: 0 = the original, 1 = the full style
    strength: float = DEFAULT_STRENGTH
    #: keep the photo's colours, take only the style's lightness
    preserve_color: bool = False
    #: the size the style image is read at: smaller = bolder, larger strokes (style images and paintings)
    style_size: int = DEFAULT_STYLE_SIZE
    #: the stroke size, in percent of the strokes a 1024-pixel picture gets (any picture's size looks
    #: alike), or "native": the network at the picture's own size (strokes get smaller as it grows)
    brush_size: int | str = DEFAULT_BRUSH_SIZE
    #: the network works at most this many pixels on the longer side (None: no cap)
    max_side: int | None = None
    #: the long side, in layer pixels, of the whole picture these pixels are part of (None: these
    #: pixels are all of it); a selection's part of a layer is stylized like the whole layer
    image_side: int | None = None
    #: how many layer pixels one pixel sent stands for: above 1 for a preview made from a reduced
    #: copy, so that the preview gets the strokes the result will have, seen at the preview's size
    pixel_scale: float = 1.0
    #: 0: the fast result; N > 0: Refine it with N optimization steps (styles with a style image)
    refine_steps: int = 0

    @classmethod
    def single(cls, style: str, **others: Any) -> StylizeOptions:
        """Options for one style: `StylizeOptions.single("candy", strength=0.8)`."""
        return cls(styles=(style,), **others)

    @property
    def style(self) -> str | list[str]:
        """The style as the engine takes it: one name or path, or a list to mix."""
        return self.styles[0] if len(self.styles) == 1 else list(self.styles)

    def problems(self) -> list[str]:
        """What is wrong with these options, one line each (empty when they are usable)."""
        from .protocol import brief as _brief  # here: the protocol module imports this one

        out = []
        if not isinstance(self.styles, tuple) or not 1 <= len(self.styles) <= MAX_STYLES:
            out.append(
                f"'style' must be a preset name or a style image path, or 'styles' a list of 1 to {MAX_STYLES} of them"
            )
        else:
            for s in self.styles:
                if not _style_text(s):
                    out.append(
                        f"'style' must be a preset name or a file path of at most {MAX_STYLE_CHARS} "
                        f"characters of valid text without NUL characters, not {_brief(s)}"
                    )
                    break
        if self.weights is not None:
            ok = isinstance(self.weights, tuple) and all(_number(w) and w >= 0 for w in self.weights)
            if not ok or (isinstance(self.styles, tuple) and len(self.weights) != len(self.styles)):
                out.append("'weights' must be one non-negative number per style")
            elif sum(self.weights) <= 0:
                out.append("'weights' must not all be 0")
        if not _number(self.strength) or not 0.0 <= self.strength <= 1.0:
            out.append(f"'strength' must be a number from 0 to 1, not {_brief(self.strength)}")
        if not isinstance(self.preserve_color, bool):
            out.append(f"'preserve_color' must be true or false, not {_brief(self.preserve_color)}")
        if not _whole(self.style_size) or not MIN_STYLE_SIZE <= self.style_size <= MAX_STYLE_SIZE:
            out.append(
                f"'style_size' must be a whole number from {MIN_STYLE_SIZE} to {MAX_STYLE_SIZE}, "
                f"not {_brief(self.style_size)}"
            )
        brush = self.brush_size
        if brush != NATIVE and not (
            isinstance(brush, int) and _whole(brush) and MIN_BRUSH_SIZE <= brush <= MAX_BRUSH_SIZE
        ):
            out.append(
                f"'brush_size' must be a whole percentage from {MIN_BRUSH_SIZE} to {MAX_BRUSH_SIZE} "
                f'or "{NATIVE}", not {_brief(self.brush_size)}'
            )
        if self.image_side is not None and (not _whole(self.image_side) or self.image_side < 1):
            out.append(f"'image_side' must be a whole number of pixels above 0 or null, not {_brief(self.image_side)}")
        if not _number(self.pixel_scale) or not MIN_PIXEL_SCALE <= self.pixel_scale <= MAX_PIXEL_SCALE:
            out.append(
                f"'pixel_scale' must be a number from 1/{MAX_PIXEL_SCALE:.0f} to {MAX_PIXEL_SCALE:.0f}, "
                f"not {_brief(self.pixel_scale)}"
            )
        if not _whole(self.refine_steps) or not 0 <= self.refine_steps <= MAX_REFINE_STEPS:
            out.append(
                f"'refine_steps' must be a whole number from 0 (no Refine) to {MAX_REFINE_STEPS}, "
                f"not {_brief(self.refine_steps)}"
            )
        if self.max_side is not None and (not _whole(self.max_side) or self.max_side < MIN_SIDE):
            out.append(
                f"'max_side' must be a whole number of at least {MIN_SIDE} pixels or null, not {_brief(self.max_side)}"
            )
        return out

    def checked(self) -> StylizeOptions:
        """self, or OptionsError naming the first problem."""
        problems = self.problems()
        if problems:
            raise OptionsError(problems[0])
        return self

    # -- the wire ------------------------------------------------------------------

    def to_header(self) -> dict[str, Any]:
        """The fields as JSON values, for a stylize request's header: one style as "style" (as
        in 0.1, so an older worker still understands it), several as "styles"."""
        data = asdict(self)
        del data["styles"]
        if len(self.styles) == 1:
            data["style"] = self.styles[0]
        else:
            data["styles"] = list(self.styles)
        data["weights"] = None if self.weights is None else list(self.weights)
        return data

    @classmethod
    def from_header(cls, header: dict[str, Any]) -> StylizeOptions:
        """Options from a request's header (unknown keys ignored, missing ones default); OptionsError
        when a value has the wrong type or range. One style comes as "style", several as "styles"."""
        if "style" in header and "styles" in header:
            raise OptionsError("give 'style' (one) or 'styles' (several), not both")
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in header:
                values[f.name] = header[f.name]
        if "style" in header:
            values["styles"] = [header["style"]]
        for key in ("styles", "weights"):
            if isinstance(values.get(key), list):
                values[key] = tuple(values[key])
        for key in ("strength", "pixel_scale"):
            if isinstance(values.get(key), int) and not isinstance(values[key], bool):
                values[key] = float(values[key])
        return cls(**values).checked()

    def engine_arguments(self) -> dict[str, Any]:
        """Keyword arguments of `painterly.Stylizer.stylize` for these options."""
        return {
            "style": self.style,
            "style_weights": None if self.weights is None else list(self.weights),
            "strength": self.strength,
            "preserve_color": self.preserve_color,
            "style_size": self.style_size,
            "brush_size": self.brush_size,
            "max_side": self.max_side,
            "image_side": self.image_side,
            "pixel_scale": self.pixel_scale,
            "refine": self.refine_steps,
        }


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _style_text(value: Any) -> bool:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_STYLE_CHARS or "\x00" in value:
        return False
    try:  # lone surrogates other than the file-name bytes Python maps to U+DC80..U+DCFF
        value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True
