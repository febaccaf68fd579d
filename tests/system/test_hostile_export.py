"""A bad export never stops the work under way: through the CLI, a run on an export that cannot be read ends in
exit 8, the follow-ups already started go on (an unreached client is still emailed), and nothing waits for ever."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from tests.conftest import INIT_DAY, run_cli
from tests.people import Adviser

DAY = INIT_DAY.isoformat()
CLAIRE = "claire.martin@cabinet-exemple.fr"


def truncated_xlsx(path: Path) -> Path:
    """A workbook cut half-way, as an interrupted copy or download leaves it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        z.writestr("xl/workbook.xml", "<workbook/>" + " " * 5000)
        z.writestr("xl/worksheets/sheet1.xml", "<worksheet><sheetData>" + "<row/>" * 5000 + "</sheetData></worksheet>")
    data = buffer.getvalue()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.fixture
def emailing_day(workdir: Path) -> tuple[Path, Adviser]:
    """Calls booked on DAY, five left unanswered: the next pass emails those clients who have an address (fewer
    than the 30 a minute a mailbox may send, so that the test never waits for the sending limit)."""
    settings = workdir / "m3mail.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace("attempts = 2", "attempts = 1"), encoding="utf-8")
    assert run_cli("run", "--settings", settings, "--today", DAY).code == 0
    adviser = Adviser(workdir / "boites", CLAIRE)
    for call in adviser.calls()[:5]:
        adviser.set_outcome(call.key, "M+3 Injoignable")
    return settings, adviser


@pytest.mark.parametrize("bad", ["truncated.xlsx", "not-a-workbook.xlsx", "/dev/zero"])
def test_an_unreadable_export_ends_in_exit_8_and_the_work_under_way_goes_on(emailing_day, bad: str) -> None:
    settings, adviser = emailing_day
    export = settings.parent / bad
    if bad == "truncated.xlsx":
        truncated_xlsx(export)
    elif bad == "not-a-workbook.xlsx":
        export.write_bytes(b"client_id;nom\r\nC1;DUPONT\r\n")
    elif not os.path.exists(bad):
        pytest.skip("no /dev/zero here")
    result = run_cli("run", "--settings", settings, "--today", "2026-11-26T10:30", "--portfolio", export)
    assert result.code == 8, result.err
    assert str(export.name) in result.err and "no follow-up started" in result.err and "Traceback" not in result.err
    assert adviser.sent()  # the unreached clients were emailed all the same
