"""Painterly's editor-side package: wire protocol, worker client, settings, dialogs.

Everything here except `painterly_plugin.worker` must run on the editor's own
Python (standard library and Qt only), so nothing may import numpy or torch at
package level.
"""
