"""The Krita plug-in's own logic that runs without Krita: the scripting entry point's request, and
the settings (device, precision) reaching the session's worker. Inside Krita: tests/editors/."""

from __future__ import annotations

import sys

import pytest
from painterly_common import settings
from painterly_common.options import StylizeOptions

from .conftest import ROOT, WORKER_PYTHON

sys.path.insert(0, str(ROOT / "plugin" / "krita"))  # where Krita finds it: pykrita/painterly_krita

import painterly_krita  # noqa: E402
from painterly_krita import script_options, session  # noqa: E402


def test_stylize_node_keywords_make_the_request():
    # the calls scripts made before mixes and style sizes existed mean what they meant
    assert script_options() == StylizeOptions.single("candy")
    assert script_options("mosaic", 0.6, True, brush_size=200) == StylizeOptions.single(
        "mosaic", strength=0.6, preserve_color=True, brush_size=200
    )
    assert script_options(style="udnie", brush_size="native") == StylizeOptions.single("udnie", brush_size="native")
    # a mix, its weights as numbers, the style size
    assert script_options(["starry_night", "/tmp/style.png"], weights=[3, 1], style_size=384) == StylizeOptions(
        styles=("starry_night", "/tmp/style.png"), weights=(3.0, 1.0), style_size=384
    )
    # or the panel's whole request
    whole = StylizeOptions(styles=("seaport", "the_scream"), weights=(1.0, 2.0), strength=0.5, style_size=128)
    assert script_options(options=whole) is whole
    with pytest.raises(TypeError, match="not both"):
        script_options("candy", options=whole)
    with pytest.raises(TypeError, match="not both"):
        script_options(options=whole, strength=0.3)


def test_stylize_node_signature_keeps_its_keywords():
    import inspect

    params = inspect.signature(painterly_krita.stylize_node).parameters
    assert list(params)[:5] == ["document", "node", "style", "strength", "preserve_color"]
    for keyword in ("brush_size", "weights", "style_size", "options", "label", "client", "on_progress", "cancel_event"):
        assert params[keyword].kind is inspect.Parameter.KEYWORD_ONLY, keyword


@pytest.mark.slow
def test_the_session_worker_runs_with_the_preferences_device_and_precision(tmp_path, monkeypatch):
    """The preferences' device and precision (settings.json) reach the worker Krita starts, and a
    saved change reaches the next one (`session.restart`, what saving the preferences calls)."""
    monkeypatch.setenv("PAINTERLY_CONFIG_DIR", str(tmp_path))
    for var in ("PAINTERLY_PYTHON", "PAINTERLY_DEVICE", "PAINTERLY_PRECISION", "PAINTERLY_TILE"):
        monkeypatch.delenv(var, raising=False)
    settings.save(settings.Settings(worker_python=WORKER_PYTHON, device="cpu", precision="full", tile=384))
    session.restart()
    try:
        runtime = session.client().start()["runtime"]
        assert (runtime["device_name"], runtime["precision"], runtime["tile"]) == ("cpu", "full", 384)
        assert session.client().python == WORKER_PYTHON
        settings.save(settings.Settings(worker_python=WORKER_PYTHON, device="cpu", precision="half"))
        session.restart()
        assert session.client().start()["runtime"]["precision"] == "half"
    finally:
        session.shutdown()
