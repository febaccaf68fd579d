"""Files m3mail ships beside its code: the example settings and the templates.

In a wheel they sit inside the package (``m3mail/_shipped/``); in a source checkout or an editable install
they are the repository's top-level ``settings/`` and ``templates/`` folders.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def shipped(relative: str) -> Path:
    """The shipped file or folder ``relative`` (e.g. ``settings/m3mail.toml``)."""
    inside = _PACKAGE / "_shipped" / relative
    return inside if inside.exists() else _PACKAGE.parent / relative
