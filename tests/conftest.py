"""Shared fixtures: a working folder made by ``m3mail init`` for a fixed day, and a way to run the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest

from m3mail.commands import init_folder
from m3mail.job import RunSummary, run_once
from m3mail.settings import Settings

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


EXPORT_HEADER = ("client_id;civilite;nom;prenom;email;telephone;adresse;code_postal;ville;conseiller;contrat;type;"
                 "produit;date_effet;statut;prime_annuelle;garanties;sinistres;vip;opposition")  # fmt: skip


def quiet_run(settings: Settings, when: datetime) -> RunSummary:
    """One pass in this process at ``when``: no dry-run lines printed, no wait for the sending limit."""
    return run_once(settings, when, sleep=lambda _s: None, echo=lambda _s: None)


def one_attempt_folder(folder: Path, day: date, rows: list[str]) -> Path:
    """A working folder made by ``m3mail init`` on ``day``, its export replaced by ``rows`` (under EXPORT_HEADER,
    as Excel writes CSV: CRLF) and one call attempt before the email; returns its settings file."""
    init_folder(folder, day)
    (folder / "portefeuille.csv").write_text("\r\n".join([EXPORT_HEADER, *rows]) + "\r\n", encoding="utf-8")
    path = folder / "m3mail.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("attempts = 2", "attempts = 1"), encoding="utf-8")
    return path


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A working folder as ``m3mail init`` writes it on INIT_DAY."""
    folder = tmp_path / "agence"
    init_folder(folder, INIT_DAY)
    return folder
