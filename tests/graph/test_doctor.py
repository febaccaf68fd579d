"""`m3mail doctor` against the emulator: what an admin sees for a well set-up tenant, and for each usual mistake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from m3mail.commands import init_folder
from tests.conftest import INIT_DAY
from tests.graph.agency import point_at
from tests.graph.emulator import GraphEmulator

ADVISERS = ("claire.martin@cabinet-exemple.fr", "thomas.bernard@cabinet-exemple.fr", "nadia.hoarau@cabinet-exemple.fr")


@pytest.fixture
def tenant(tmp_path: Path) -> Iterator[tuple[GraphEmulator, Path]]:
    graph = GraphEmulator(mailboxes=ADVISERS)
    graph.start(folder=tmp_path / "tls")
    folder = tmp_path / "agence"
    init_folder(folder, INIT_DAY)
    settings = folder / "m3mail.toml"
    point_at(settings, graph)
    try:
        yield graph, settings
    finally:
        graph.stop()


def doctor(settings: Path, secret: str = "a-secret") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")}
    env["M3MAIL_CLIENT_SECRET"] = secret
    return subprocess.run([sys.executable, "-m", "m3mail", "doctor", "--settings", str(settings), "--json"],
                          capture_output=True, text=True, env=env)  # fmt: skip


def failed(result: subprocess.CompletedProcess[str]) -> dict[str, list[dict]]:
    data = json.loads(result.stdout)
    return {m: [c for c in checks if not c["ok"]] for m, checks in data["mailboxes"].items()}


def test_a_tenant_set_up_as_the_readme_says_passes_every_check(tenant) -> None:
    graph, settings = tenant
    result = doctor(settings)
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] and set(data["mailboxes"]) == set(ADVISERS)
    assert {c["check"] for c in data["mailboxes"][ADVISERS[0]]} == {
        "calendar read", "calendar write", "mail send", "folder creation", "categories", "mailbox settings"}
    assert "Mail.Send" in data["roles"]
    box = graph.mailbox(ADVISERS[0])
    assert box.events == {}  # the test event is gone
    assert {c["displayName"] for c in box.categories.values()} >= {"M+3", "M+3 Satisfait"}
    assert not [m for m in box.messages.values() if m.get("isDraft")]  # the test message left, no draft behind


def test_a_missing_permission_is_named_with_graph_s_code_and_the_fix(tenant) -> None:
    graph, settings = tenant
    graph.roles = ("Calendars.ReadWrite", "Mail.ReadWrite", "MailboxSettings.ReadWrite")  # Mail.Send forgotten
    result = doctor(settings)
    assert result.returncode == 10
    problems = failed(result)
    for adviser in ADVISERS:
        assert [c["check"] for c in problems[adviser]] == ["mail send"]
        check = problems[adviser][0]
        assert check["status"] == 403 and check["code"] == "ErrorAccessDenied" and "Mail.Send" in check["fix"]


def test_a_mailbox_outside_the_app_s_scope_and_an_unknown_one_are_told_apart(tenant) -> None:
    graph, settings = tenant
    graph.scope = {ADVISERS[0], ADVISERS[1]}
    graph.mailboxes.pop(ADVISERS[1])  # left the company
    result = doctor(settings)
    assert result.returncode == 10
    problems = failed(result)
    assert problems[ADVISERS[0]] == []
    assert problems[ADVISERS[1]][0]["status"] == 404 and "[[advisers]]" in problems[ADVISERS[1]][0]["fix"]
    assert len(problems[ADVISERS[1]]) == 1  # the other checks would only say it again
    outside = problems[ADVISERS[2]]
    assert outside and all(c["code"] == "ErrorAccessDenied" and "scope" in c["fix"] for c in outside)


def test_a_wrong_secret_is_a_refused_token(tenant) -> None:
    graph, settings = tenant
    graph.client_secret = "the-right-one"
    result = doctor(settings, secret="an-old-one")
    assert result.returncode == 10
    data = json.loads(result.stdout)
    assert not data["token"]["ok"] and "client secret" in data["token"]["fix"]
    assert data["mailboxes"] == {}


def test_a_run_refused_by_graph_points_the_admin_to_doctor(tenant) -> None:
    graph, settings = tenant
    graph.roles = ("Mail.ReadWrite", "Mail.Send", "MailboxSettings.ReadWrite")  # no calendar permission
    env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")}
    env["M3MAIL_CLIENT_SECRET"] = "a-secret"
    run = subprocess.run([sys.executable, "-m", "m3mail", "run", "--settings", str(settings), "--today",
                          INIT_DAY.isoformat()], capture_output=True, text=True, env=env)  # fmt: skip
    assert run.returncode == 8
    assert "ErrorAccessDenied" in run.stderr and f"m3mail doctor --settings {settings}" in run.stderr
