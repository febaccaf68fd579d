"""Client data under the data-protection rules, end to end: a year of follow-ups leaves no ended client's data in
the state's bytes; a data-protection officer answers access, erasure and objection requests and purges on a
schedule with the commands, as the README's "Données personnelles" says."""

from __future__ import annotations

import logging
import sqlite3
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from m3mail.commands import init_folder
from m3mail.job import run_once
from m3mail.models import Client
from m3mail.portfolio import PortfolioReader
from m3mail.settings import Settings, load_settings
from tests.conftest import INIT_DAY, run_cli
from tests.people import Adviser

PARIS = ZoneInfo("Europe/Paris")
RUN_DAYS = (0, 2, 7, 14, 21, 28, 45, 60, 90, 180, 365)  # days after INIT_DAY: a year, the first month closely


def clients(settings: Settings) -> dict[str, Client]:
    """The export's clients, as the agency typed them: the data that must not outlive the follow-ups."""
    reader = PortfolioReader(settings.portfolio.path, settings.portfolio, [a.email for a in settings.advisers])
    return {r.client.id: r.client for r in reader.records()}


def state_bytes(settings: Settings) -> bytes:
    wal = Path(f"{settings.state}-wal")
    return settings.state.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


@pytest.fixture(scope="module")
def a_year(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, list[str]]:
    """The sample agency over a year of runs at 10:00; two days in, the advisers answer every other call
    ("M+3 Satisfait"), the others are never answered (their windows close: missed). Returns the settings and
    what the runs logged."""
    folder = tmp_path_factory.mktemp("privacy") / "agence"
    init_folder(folder, INIT_DAY)
    settings = load_settings(folder / "m3mail.toml")
    logged: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: logged.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("m3mail").addHandler(handler)
    try:
        for n in RUN_DAYS:
            day = INIT_DAY + timedelta(days=n)
            if n == 2:
                for a in settings.advisers:
                    desk = Adviser(settings.local.root, a.email)
                    for i, call in enumerate(desk.calls()):
                        if i % 2 == 0:
                            desk.set_outcome(call.key, "M+3 Satisfait", f"Appel passé ({call.key})")
            run_once(settings, datetime.combine(day, time(10), tzinfo=PARIS), echo=lambda line: None)
    finally:
        logging.getLogger("m3mail").removeHandler(handler)
    return settings, logged


def test_a_year_on_the_state_holds_no_ended_client_s_data(a_year) -> None:
    settings, logged = a_year
    db = sqlite3.connect(settings.state)
    rows = db.execute("SELECT client_id, personal FROM followups").fetchall()
    db.close()
    closed = {cid for cid, _ in rows} - {cid for cid, personal in rows if personal}
    assert len(closed) >= 50, len(closed)  # most of the sample's clients came and went
    everyone, raw = clients(settings), state_bytes(settings)
    open_names = {everyone[cid].last_name for cid, personal in rows if personal and cid in everyone}
    for cid in closed:
        c = everyone[cid]
        found = [v for v in (c.email, c.phone, c.street) if v and v.encode() in raw]
        if c.last_name not in open_names:  # a name another client under way shares is theirs to keep
            found += [v for v in (c.last_name, f"{c.first_name}") if len(v) > 3 and v.encode() in raw]
        assert found == [], (cid, found)
    for line in logged:  # what the runs logged names nobody
        assert not [c for c in everyone.values() if c.email and c.email in line], line


def test_the_report_names_no_client(a_year, tmp_path: Path) -> None:
    settings, _ = a_year
    html, csv = tmp_path / "rapport.html", tmp_path / "rapport.csv"
    result = run_cli("report", "--settings", settings.state.parent / "m3mail.toml", "--html", html, "--csv", csv)
    assert result.code == 0, result.err
    text = html.read_text(encoding="utf-8") + csv.read_text(encoding="utf-8-sig")
    assert "claire.martin@cabinet-exemple.fr" in text  # the advisers are there: the report is not empty
    for c in clients(settings).values():
        assert not [v for v in (c.email, c.phone, c.street) if v and v in text], c.id


def test_access_shows_what_is_held_and_where_the_exchanges_are(a_year) -> None:
    settings, _ = a_year
    path = settings.state.parent / "m3mail.toml"
    db = sqlite3.connect(settings.state)
    cid = db.execute("SELECT client_id FROM followups WHERE personal = 0 AND state = 'done' LIMIT 1").fetchone()[0]
    db.close()
    result = run_cli("client", cid, "--settings", path, "--json")
    assert result.code == 0, result.err
    data = result.json()
    assert data["client_id"] == cid and data["follow_ups"]
    f = data["follow_ups"][0]
    assert {k: v for k, v in f["client"].items() if v} == {"id": cid}  # nothing but the id is held any more
    assert f["outcome"] == "Satisfait" and any(h["event"] == "minimised" for h in f["history"])
    assert f["filed"]["folder"] == f"Clients/… ({cid})" and f["filed"]["mailbox"] == f["adviser"]
    assert f["filed"]["calls"] == [f"{f['id']}#call1"] and f["actions"]
    text = run_cli("client", cid, "--settings", path)
    assert text.code == 0 and "none (erased once the follow-up closed)" in text.out


def test_the_purge_deletes_at_retention_and_its_dry_run_only_counts(a_year, tmp_path: Path) -> None:
    settings, _ = a_year
    path = settings.state.parent / "m3mail.toml"
    later = (INIT_DAY + timedelta(days=365 + 3 * 366)).isoformat()  # three years after the last activity
    before = state_bytes(settings)
    dry = run_cli("purge", "--dry-run", "--today", later, "--settings", path)
    assert dry.code == 0, dry.err
    assert state_bytes(settings) == before  # counted, nothing changed
    counted = int(dry.out.split("): ")[1].split()[0])
    assert counted > 0, dry.out
    done = run_cli("purge", "--today", later, "--settings", path)
    assert done.code == 0 and f"{counted} follow-up(s)" in done.out, done.out + done.err
    status = run_cli("status", "--settings", path, "--json").json()
    kept = sqlite3.connect(settings.state).execute("SELECT count(*) FROM followups").fetchone()[0]
    assert len(status["followups"]) == kept  # only what is left: complaints under way, if any
    assert kept < counted


def test_a_forgotten_client_is_left_out_without_being_named_and_erased_everywhere(tmp_path: Path) -> None:
    folder = tmp_path / "agence"
    init_folder(folder, INIT_DAY)
    path = folder / "m3mail.toml"
    settings = load_settings(path)
    first = run_cli("due", "--settings", path, "--today", INIT_DAY.isoformat(), "--json").json()
    target = first[0]["client_id"]
    client = clients(settings)[target]
    run_cli("run", "--settings", path, "--today", INIT_DAY.isoformat())  # under way: booked, backed up
    assert client.email.encode() in state_bytes(settings)
    forgotten = run_cli("forget", target, "--settings", path)
    assert forgotten.code == 0 and "1 backup(s)" in forgotten.out, forgotten.out + forgotten.err
    assert f"Clients/{client.last_name.upper()} {client.first_name} ({target})" in forgotten.out  # where, for the DPO
    assert "a call is still booked at" in forgotten.out  # and what the adviser must not do any more
    for stored in [settings.state, *sorted(settings.backups.folder.iterdir())]:
        raw = stored.read_bytes()
        assert client.email.encode() not in raw and client.phone.encode() not in raw, stored
    later = (INIT_DAY + timedelta(days=1)).isoformat()
    due = run_cli("due", "--settings", path, "--today", later)
    assert target not in due.out + due.err and client.last_name.upper() not in due.out
    assert "left out: they objected" in due.out
    check = run_cli("check", "--settings", path, "--today", later)
    assert "left out: they objected" in check.out and target not in check.out + check.err
    again = run_cli("run", "--settings", path, "--today", later)
    assert again.code == 0, again.err
    assert run_cli("client", target, "--settings", path, "--json").json()["follow_ups"] == []
    assert run_cli("client", target, "--settings", path, "--json").json()["opted_out_on"] == date.today().isoformat()
