"""Painterly's editor-side package: the worker client, the dialogs and their Qt glue.

Everything here runs on the editor's own Python (standard library and Qt only), so
nothing may import numpy, torch or the engine; the protocol and the settings are in
`painterly_common`. (`painterly_plugin.worker` only forwards to `painterly.worker`,
for plug-ins before 0.2.)
"""
