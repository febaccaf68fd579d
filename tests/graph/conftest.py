"""The emulator, started once per test on an ephemeral port; CA variables of the machine never interfere."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.graph.emulator import GraphEmulator

ADVISER = "claire.martin@cabinet-exemple.fr"


@pytest.fixture(autouse=True)
def _no_ca_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's verify= (o365-notes.md)."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def graph(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GraphEmulator]:
    monkeypatch.setenv("M3MAIL_EMULATOR_LOG", str(tmp_path / "requests.jsonl"))
    emulator = GraphEmulator(mailboxes=(ADVISER,))
    emulator.start(folder=tmp_path / "tls")
    yield emulator
    emulator.stop()


@pytest.fixture
def backend(graph: GraphEmulator):
    """m3mail's Microsoft 365 backend, pointed at the emulator."""
    from m3mail.backends.microsoft365.backend import Microsoft365Backend
    from m3mail.backends.microsoft365.connection import GraphAccess

    base = graph.base_url
    return Microsoft365Backend(GraphAccess(graph.tenant, "m3mail-app", "a-secret", graph_url=base,
                                           authority_url=base, ca_bundle=str(graph.ca_file)))  # fmt: skip
