"""kritarc: Krita's INI file, which the installer edits one key of and must not reformat."""

from __future__ import annotations

from pathlib import Path

KRITA_PLUGIN = "painterly_krita"
KRITA_KEY = f"enable_{KRITA_PLUGIN}"
KRITA_ENABLE_HELP = (
    "In Krita: Settings ▸ Configure Krita ▸ Python Plugin Manager ▸ tick “Painterly Style "
    "Transfer”, then restart Krita (or run the installer again with --enable while Krita is closed)."
)


def _section_bounds(lines: list[str], section: str) -> tuple[int, int] | None:
    start = None
    for i, line in enumerate(lines):
        s = line.strip()
        if s.startswith("[") and s.endswith("]"):
            if start is not None:
                return start, i
            if s[1:-1] == section:
                start = i
    return (start, len(lines)) if start is not None else None


def ini_get(text: str, section: str, key: str) -> str | None:
    lines = text.splitlines()
    bounds = _section_bounds(lines, section)
    if bounds is None:
        return None
    for line in lines[bounds[0] + 1 : bounds[1]]:
        k, sep, v = line.partition("=")
        if sep and k.strip() == key:
            return v.strip()
    return None


def ini_set(text: str, section: str, key: str, value: str) -> str:
    """`text` with key=value in [section]; every other line exactly as it was."""
    lines = text.splitlines(keepends=True)
    bare = [line.rstrip("\r\n") for line in lines]
    nl = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    bounds = _section_bounds(bare, section)
    if bounds is None:
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += nl
        sep = nl if lines and bare[-1].strip() else ""
        return "".join(lines) + f"{sep}[{section}]{nl}{key}={value}{nl}"
    start, end = bounds
    for i in range(start + 1, end):
        k, sep, _ = bare[i].partition("=")
        if sep and k.strip() == key:
            lines[i] = f"{key}={value}" + (lines[i][len(bare[i]) :] or nl)
            return "".join(lines)
    insert = end
    while insert > start + 1 and not bare[insert - 1].strip():
        insert -= 1
    if insert > 0 and not lines[insert - 1].endswith(("\n", "\r")):
        lines[insert - 1] += nl
    lines.insert(insert, f"{key}={value}{nl}")
    return "".join(lines)


def ini_remove(text: str, section: str, key: str) -> str:
    lines = text.splitlines(keepends=True)
    bare = [line.rstrip("\r\n") for line in lines]
    bounds = _section_bounds(bare, section)
    if bounds is None:
        return text
    start, end = bounds
    keep = [
        line
        for i, line in enumerate(lines)
        if not (start < i < end and bare[i].partition("=")[1] and bare[i].partition("=")[0].strip() == key)
    ]
    # a section left empty by us goes too
    bare_keep = [line.rstrip("\r\n") for line in keep]
    b = _section_bounds(bare_keep, section)
    if b is not None and not any(x.strip() for x in bare_keep[b[0] + 1 : b[1]]):
        del keep[b[0] : b[1]]
    return "".join(keep)


def krita_running() -> bool:
    """Whether a Krita process runs (Linux's /proc; elsewhere: not known, False)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return False
    for comm in proc.glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "krita":
                return True
        except OSError:
            continue
    return False
