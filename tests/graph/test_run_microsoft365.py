"""`m3mail run` on the sample with backend = "microsoft365", as an admin would try it against the emulator."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from m3mail.commands import init_folder
from tests.conftest import INIT_DAY
from tests.graph.agency import point_at
from tests.graph.emulator import GraphEmulator
from tests.graph.openapi_check import check_log

ADVISERS = ("claire.martin@cabinet-exemple.fr", "thomas.bernard@cabinet-exemple.fr", "nadia.hoarau@cabinet-exemple.fr")


def test_a_run_books_the_calls_in_outlook_through_graph(tmp_path: Path) -> None:
    graph = GraphEmulator(mailboxes=ADVISERS)
    graph.start(folder=tmp_path / "tls")
    try:
        folder = tmp_path / "agence"
        init_folder(folder, INIT_DAY)
        settings = folder / "m3mail.toml"
        point_at(settings, graph)
        env = {
            k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
        }
        log = tmp_path / "requests.jsonl"
        env["M3MAIL_EMULATOR_LOG"] = str(log)
        graph.log_path = str(log)

        missing = subprocess.run([sys.executable, "-m", "m3mail", "run", "--settings", str(settings), "--today",
                                  INIT_DAY.isoformat()], capture_output=True, text=True, env=env)  # fmt: skip
        assert missing.returncode == 3 and "M3MAIL_CLIENT_SECRET" in missing.stderr

        env["M3MAIL_CLIENT_SECRET"] = "a-secret"
        run = subprocess.run([sys.executable, "-m", "m3mail", "run", "--settings", str(settings), "--today",
                              INIT_DAY.isoformat()], capture_output=True, text=True, env=env)  # fmt: skip
        assert run.returncode == 0, run.stderr
        booked = sum(len(graph.mailbox(a).events) for a in ADVISERS)
        assert booked == 61  # the same calls as the local backend books on the sample that day
        # the summary says how many Graph requests the run made: the bookings went in $batch requests
        line = next(li for li in run.stdout.splitlines() if li.startswith("Microsoft Graph:"))
        requests = [int(n) for n in re.findall(r"\d+", line)]
        served = [json.loads(li) for li in log.read_text(encoding="utf-8").splitlines()]
        graph_requests = [r for r in served if r["path"].startswith("/v1.0/")]
        assert requests[0] == len(graph_requests) < 61  # fewer requests than calls booked
        assert check_log(log) == []  # every request as Microsoft's API description says
        export = (folder / "portefeuille.csv").read_text(encoding="utf-8-sig")
        emails = {w for w in export.replace(";", " ").split() if "@example." in w}
        assert emails and not any(e in run.stderr or e in run.stdout for e in emails)  # no client data in logs
        categories = {c["displayName"] for c in graph.mailbox(ADVISERS[0]).categories.values()}
        assert {"M+3", "M+3 Satisfait", "M+3 Réclamation", "M+3 Injoignable"} <= categories
        again = subprocess.run([sys.executable, "-m", "m3mail", "run", "--settings", str(settings), "--today",
                                INIT_DAY.isoformat()], capture_output=True, text=True, env=env)  # fmt: skip
        assert again.returncode == 0 and sum(len(graph.mailbox(a).events) for a in ADVISERS) == booked
    finally:
        graph.stop()


def test_with_batching_off_every_write_is_a_request_of_its_own(tmp_path: Path) -> None:
    graph = GraphEmulator(mailboxes=ADVISERS)
    graph.start(folder=tmp_path / "tls")
    try:
        init_folder(tmp_path / "agence", INIT_DAY)
        settings = tmp_path / "agence" / "m3mail.toml"
        point_at(settings, graph)
        settings.write_text(settings.read_text(encoding="utf-8").replace("batching = true", "batching = false"),
                            encoding="utf-8")  # fmt: skip
        unset = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
        env = {k: v for k, v in os.environ.items() if k not in unset} | {"M3MAIL_CLIENT_SECRET": "a-secret"}
        run = subprocess.run([sys.executable, "-m", "m3mail", "run", "--settings", str(settings), "--today",
                              INIT_DAY.isoformat()], capture_output=True, text=True, env=env)  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert sum(len(graph.mailbox(a).events) for a in ADVISERS) == 61
        line = next(li for li in run.stdout.splitlines() if li.startswith("Microsoft Graph:"))
        assert "(0 of them in 0 $batch request(s))" in line
    finally:
        graph.stop()
