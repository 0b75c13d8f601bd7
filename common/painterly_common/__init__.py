"""The foundation every part of Painterly stands on: standard library only.

The engine (`painterly`), the worker, the editor plug-ins (inside GIMP's and Krita's own
Python, which has no torch or numpy) and the installer (the system's Python) all import
it, so each idea has one home here:

- `protocol` — the editor ⇄ worker wire protocol, the single definition;
- `options` — `StylizeOptions`, the one typed request from a dialog to `Stylizer.stylize`;
- `settings` — the settings file shared by both plug-ins, and its defaults;
- `folders` — the platform's per-user folders;
- `files` — atomic writes with the umask's mode, one-line OS error messages, clean stops;
- `errors` — the base of the one error hierarchy, each error with a machine `code`.

It imports nothing outside the standard library, and nothing from the other packages.
"""
