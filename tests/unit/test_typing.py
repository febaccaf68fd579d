"""m3mail is typed for real: ``mypy --strict`` (as configured in pyproject.toml, with the pydantic plugin) finds
nothing in m3mail/. A type error is a bug a reader of the code would trust; this keeps the suite failing on one."""

from __future__ import annotations

from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_strict_finds_nothing_in_m3mail() -> None:
    out, err, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), str(ROOT / "m3mail")])
    assert status == 0, out + err
