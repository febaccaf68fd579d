"""Shared fixtures: a working folder made by ``m3mail init`` for a fixed day, and a way to run the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from m3mail.commands import init_folder

DATA = Path(__file__).parent / "data"
INIT_DAY = date(2026, 11, 25)  # a Wednesday


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


def run_cli(*args: str | Path, cwd: Path | None = None) -> CliResult:
    """Run ``python -m m3mail ARGS`` as a user would, in a separate process."""
    proc = subprocess.run(
        [sys.executable, "-m", "m3mail", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A working folder as ``m3mail init`` writes it on INIT_DAY."""
    folder = tmp_path / "agence"
    init_folder(folder, INIT_DAY)
    return folder
