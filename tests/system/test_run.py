"""The job's commands end to end, as an admin runs them: run, dry run, status, report, outcome, complaint, serve."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock

from tests.conftest import INIT_DAY, run_cli
from tests.people import Adviser

DAY = INIT_DAY.isoformat()  # a Wednesday: the run is at 08:00 Paris time
CLAIRE = "claire.martin@cabinet-exemple.fr"


def tree_digest(folder: Path) -> str:
    """Every file under the folder, names and contents: what 'changes nothing' is checked against."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return h.hexdigest()


@pytest.fixture
def settings(workdir: Path) -> Path:
    return workdir / "m3mail.toml"


def test_a_run_books_the_calls_and_prints_a_summary_per_adviser(settings: Path) -> None:
    result = run_cli("run", "--settings", settings, "--today", DAY)
    assert result.code == 0, result.err
    assert "follow-up(s) started" in result.out
    for adviser in ("claire.martin", "thomas.bernard", "nadia.hoarau"):
        assert adviser in result.out
    calls = Adviser(settings.parent / "boites", CLAIRE).calls()
    assert calls and all(c.categories == ("M+3",) for c in calls)
    again = run_cli("run", "--settings", settings, "--today", DAY)  # nothing left to do
    assert again.code == 0 and "0 follow-up(s) started" in again.out
    assert len(Adviser(settings.parent / "boites", CLAIRE).calls()) == len(calls)


def test_a_dry_run_prints_the_actions_and_changes_nothing(settings: Path) -> None:
    before = tree_digest(settings.parent)
    result = run_cli("run", "--settings", settings, "--today", DAY, "--dry-run")
    assert result.code == 0, result.err
    assert "[dry-run] book" in result.out and "[dry-run] start" in result.out
    assert tree_digest(settings.parent) == before  # no state, no calendar, no folder


def summary_lines(out: str) -> list[str]:
    """The run summary's table, whatever the run's label."""
    return [line for line in out.splitlines() if not line.startswith(("[dry-run]", "run at", "dry run at"))]


def test_a_dry_run_counts_what_the_real_run_then_does(settings: Path) -> None:
    adviser = Adviser(settings.parent / "boites", CLAIRE)
    emailed = letters = 0
    for day, act in ((DAY, None), ("2026-11-27T21:00", "outcomes"), ("2026-11-30T10:00", "")):
        if act:  # the advisers set outcomes: some calls answered, the others unanswered (letters for no email)
            for n, call in enumerate(adviser.calls()):
                adviser.set_outcome(call.key, "M+3 Satisfait" if n % 2 else "M+3 Injoignable")
        dry = run_cli("run", "--settings", settings, "--today", day, "--dry-run")
        real = run_cli("run", "--settings", settings, "--today", day)
        assert dry.code == real.code == 0, dry.err + real.err
        assert summary_lines(dry.out) == summary_lines(real.out), (dry.out, real.out)
        claire = next(line.split() for line in summary_lines(real.out) if line.startswith(CLAIRE))
        emailed, letters = emailed + int(claire[3]), letters + int(claire[4])
        if act:
            assert int(claire[2]) > 0 and int(claire[4]) > 0  # outcomes read, letters: not an idle pass
    assert int(claire[3]) > 0  # the emails of the last pass, and their copies filed
    status = run_cli("status", "--settings", settings, "--json").json()  # what the passes said they did, is
    mine = next(a for a in status["advisers"] if a["adviser"] == CLAIRE)
    assert (mine["emailed"], mine["letters"]) == (emailed, letters)


def test_a_first_run_prints_a_few_lines_then_its_summary(settings: Path) -> None:
    result = run_cli("run", "--settings", settings, "--today", DAY)
    assert result.code == 0, result.err
    assert len(result.err.splitlines()) <= 5, result.err  # no line per action: those are at -v
    verbose = run_cli("-v", "run", "--settings", settings, "--today", "2026-11-26")
    assert any(" done" in line for line in verbose.err.splitlines())


def test_status_json_lists_the_follow_ups_and_the_counts(settings: Path) -> None:
    run_cli("run", "--settings", settings, "--today", DAY)
    result = run_cli("status", "--settings", settings, "--json")
    assert result.code == 0, result.err
    data = result.json()
    booked = [f for f in data["followups"] if f["state"] == "booked"]
    assert booked and all(f["call_at"] and f["attempts"] == 1 for f in booked)
    keys = {"id", "client_id", "adviser", "state", "call_at", "attempts", "outcome", "emailed_at",
            "complaint_ack_due", "complaint_answer_due"}  # fmt: skip
    assert keys <= set(data["followups"][0])
    claire = next(a for a in data["advisers"] if a["adviser"] == CLAIRE)
    assert claire["due"] == claire["open"] == claire["booked"] > 0
    assert sum(a["rejected"] for a in data["advisers"]) == 5  # the sample's broken rows


def test_outcome_and_complaint_commands_record_what_the_adviser_says(settings: Path) -> None:
    run_cli("run", "--settings", settings, "--today", DAY)
    follow_up = next(f for f in run_cli("status", "--settings", settings, "--json").json()["followups"]
                     if f["state"] == "booked")  # fmt: skip
    wrong = run_cli("outcome", follow_up["id"], "Ravi", "--settings", settings)
    assert wrong.code == 9 and "Satisfait" in wrong.err
    said = run_cli("outcome", follow_up["id"], "reclamation", "--note", "Délai de remboursement",
                   "--settings", settings, "--today", DAY)  # fmt: skip
    assert said.code == 0, said.err
    row = next(f for f in run_cli("status", "--settings", settings, "--json").json()["followups"]
               if f["id"] == follow_up["id"])  # fmt: skip
    assert row["outcome"] == "Réclamation" and row["complaint_ack_due"] and row["complaint_answer_due"]
    assert row["complaint_ack_due"] == "2026-12-09"  # 10 business days after Wednesday 25/11/2026
    acked = run_cli("complaint", follow_up["id"], "--acknowledged", "--on", "2026-11-27", "--settings", settings)
    assert acked.code == 0, acked.err
    row = next(f for f in run_cli("status", "--settings", settings, "--json").json()["followups"]
               if f["id"] == follow_up["id"])  # fmt: skip
    assert row["complaint_ack_due"] is None and row["complaint_answer_due"]


def test_the_report_is_one_self_contained_page_and_a_csv(settings: Path, tmp_path: Path) -> None:
    run_cli("run", "--settings", settings, "--today", DAY)
    html, csv_path = tmp_path / "rapport.html", tmp_path / "rapport.csv"
    result = run_cli("report", "--settings", settings, "--html", html, "--csv", csv_path)
    assert result.code == 0, result.err
    page = html.read_text(encoding="utf-8")
    assert "<svg" in page and "http" not in page.replace("http-equiv", "")
    assert "claire.martin" in page
    assert csv_path.read_text(encoding="utf-8-sig").splitlines()[0].startswith("adviser,due,")


def test_a_second_run_while_one_holds_the_lock_exits_7(settings: Path) -> None:
    with FileLock(str(settings.parent / "m3mail.db") + ".lock"):
        result = run_cli("run", "--settings", settings, "--today", DAY)
    assert result.code == 7 and "another m3mail run" in result.err


def test_json_logs_carry_ids_and_no_client_data(settings: Path) -> None:
    result = run_cli("-v", "--log-json", "run", "--settings", settings, "--today", DAY)  # per-action lines at -v
    lines = [json.loads(line) for line in result.err.splitlines() if line.startswith("{")]
    assert lines and any("followup" in line for line in lines)
    export = (settings.parent / "portefeuille.csv").read_text(encoding="utf-8-sig")
    emails = {cell for cell in export.replace("\r\n", ";").split(";") if "@example." in cell}
    assert emails and not any(e in result.err for e in emails)
    assert "Nathalie" not in result.err and "+33" not in result.err


def test_a_broken_template_stops_its_follow_ups_only_with_the_file_and_line(settings: Path) -> None:
    override = settings.parent / "templates"
    override.mkdir()
    (override / "brief.html.j2").write_text("<p>{{ client.name }</p>\n", encoding="utf-8")
    result = run_cli("run", "--settings", settings, "--today", DAY)
    assert result.code == 8
    assert "brief.html.j2, line 1" in result.out + result.err


def test_an_unwritable_calendar_is_reported_and_the_others_go_on(settings: Path) -> None:
    calendars = settings.parent / "boites" / "calendars"
    calendars.mkdir(parents=True)
    (calendars / f"{CLAIRE}.ics").write_text("this is not a calendar", encoding="utf-8")
    result = run_cli("run", "--settings", settings, "--today", DAY)
    assert result.code == 8
    assert CLAIRE in result.err and "cannot be parsed" in result.err
    assert Adviser(settings.parent / "boites", "thomas.bernard@cabinet-exemple.fr").calls()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM")
def test_serve_runs_a_pass_then_stops_cleanly_on_sigterm(settings: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "m3mail", "serve", "--settings", str(settings), "--every", "1h"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=settings.parent)  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (settings.parent / "m3mail.db").exists():
        time.sleep(0.2)
    time.sleep(1)
    os.kill(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopped" in err


def test_a_missing_export_starts_nothing_but_the_follow_ups_under_way_go_on(settings: Path) -> None:
    assert run_cli("run", "--settings", settings, "--today", DAY).code == 0
    adviser = Adviser(settings.parent / "boites", CLAIRE)
    first = min(adviser.calls(), key=lambda c: c.start)
    adviser.set_outcome(first.key, "M+3 Satisfait")
    (settings.parent / "portefeuille.csv").rename(settings.parent / "ailleurs.csv")
    result = run_cli("run", "--settings", settings, "--today", "2026-12-04")
    assert result.code == 8 and "portefeuille.csv" in result.err and "does not exist" in result.err
    rows = run_cli("status", "--settings", settings, "--json").json()["followups"]
    assert any(f["outcome"] == "Satisfait" for f in rows)  # the outcome was read all the same


def test_a_report_for_a_period_keeps_the_rejected_rows_and_errors_of_its_advisers(settings: Path, tmp_path) -> None:
    run_cli("run", "--settings", settings, "--today", DAY)
    csv_path = tmp_path / "periode.csv"
    assert run_cli("report", "--settings", settings, "--csv", csv_path, "--from", DAY, "--to", DAY).code == 0
    rows = {r.split(",")[0]: r.split(",") for r in csv_path.read_text(encoding="utf-8-sig").splitlines()}
    header = rows["adviser"]
    total = dict(zip(header, rows["TOTAL"], strict=True))
    assert total["rejected"] == "5"  # the sample's broken rows, whatever the period
    assert 0 < int(total["due"]) < 61  # only the follow-ups due that day
