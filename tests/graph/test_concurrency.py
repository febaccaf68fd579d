"""Several advisers served at once never put more than 4 requests in flight on one mailbox (Exchange's limit)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from m3mail.backends.microsoft365.backend import Microsoft365Backend
from m3mail.backends.microsoft365.connection import GraphAccess
from m3mail.errors import BackendError
from m3mail.models import MailSpec
from tests.graph.emulator import GraphEmulator

SHARED = "archives@cabinet-exemple.fr"


@pytest.fixture
def shared(tmp_path) -> GraphEmulator:
    graph = GraphEmulator(mailboxes=(SHARED,))
    graph.start(folder=tmp_path / "tls")
    graph.latency = 0.02  # long enough for requests of several threads to overlap
    yield graph
    graph.stop()


def backend_for(graph: GraphEmulator, per_mailbox: int) -> Microsoft365Backend:
    access = GraphAccess(graph.tenant, "app", "secret", graph_url=graph.base_url, authority_url=graph.base_url,
                         ca_bundle=str(graph.ca_file))  # fmt: skip
    return Microsoft365Backend(access, per_mailbox=per_mailbox, sleep=lambda _s: None)


def filings(adviser: int) -> list[tuple[tuple[str, ...], MailSpec, bool]]:
    when = datetime(2026, 11, 25, tzinfo=UTC)
    return [(("Clients", f"CLIENT {adviser}-{n}"),
             MailSpec(f"F{adviser}-{n}#record", SHARED, (SHARED,), "Compte rendu", "texte", "<p>texte</p>", when=when),
             False) for n in range(8)]  # fmt: skip


@pytest.mark.parametrize("per_mailbox", [4, 2])
def test_advisers_filing_into_one_shared_mailbox_at_once_stay_within_its_limit(shared, per_mailbox: int) -> None:
    backend = backend_for(shared, per_mailbox)
    results: dict[int, list] = {}

    def adviser(n: int) -> None:
        results[n] = backend.file_many(SHARED, filings(n))

    threads = [threading.Thread(target=adviser, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    backend.close()
    assert not [r for rs in results.values() for r in rs if isinstance(r, BackendError)]
    assert shared.peak_concurrency[SHARED] == per_mailbox  # used to the full, never beyond
    box = shared.mailbox(SHARED)
    assert len([m for m in box.messages.values() if m.get("subject") == "Compte rendu"]) == 24
    assert len([f for f in box.folders.values() if f["displayName"] == "Clients"]) == 1  # the root made once
