"""The Microsoft 365 backend's mail half, through O365 and msal, against the emulator."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from m3mail.backends.base import Progress
from m3mail.backends.microsoft365.backend import Microsoft365Backend
from m3mail.backends.microsoft365.shapes import message as _message
from m3mail.errors import BackendError, Pending
from m3mail.models import MailSpec
from tests.graph.conftest import ADVISER
from tests.graph.emulator import GraphEmulator

EARLIER = datetime.now(UTC) - timedelta(hours=1)


def mail(key: str = "M3-C1-20261118#email") -> MailSpec:
    return MailSpec(key, ADVISER, ("client@example.com",), "Votre contrat Auto", "Bonjour", "<p>Bonjour</p>",
                    sender_name="Claire Martin")  # fmt: skip


def test_an_email_is_a_draft_then_sent_and_a_resumed_send_never_sends_twice(backend, graph: GraphEmulator) -> None:
    sent = backend.send(ADVISER, mail())
    assert sent.message_id and sent.conversation
    again = backend.send(ADVISER, mail(), resume=True)  # the executor resumes an action it may have done
    assert again.id == sent.id and again.message_id == sent.message_id
    box = graph.mailbox(ADVISER)
    sent_items = [m for m in box.messages.values() if m["_folder"] == box.folder("sentitems")["id"]]
    assert len(sent_items) == 1 and sent_items[0]["isDraft"] is False


def test_a_draft_left_by_a_crash_is_sent_not_duplicated(backend, graph: GraphEmulator) -> None:
    graph.create_message(ADVISER, None, backend_message(mail()), 'IdType="ImmutableId"')  # made, then the crash
    backend.send(ADVISER, mail(), resume=True)
    box = graph.mailbox(ADVISER)
    assert len(box.messages) == 1 and next(iter(box.messages.values()))["isDraft"] is False


def test_filing_creates_the_folders_once_and_files_read_non_draft_messages(backend, graph: GraphEmulator) -> None:
    folder = ("Clients", "DUPONT Jean (C1)")
    backend.file(ADVISER, folder, mail("M3-C1-20261118#record"))
    fresh = Microsoft365Backend(backend.access)  # a new run: no cached folder ids
    fresh.file(ADVISER, folder, mail("M3-C1-20261118#file-email"))
    assert fresh.file(ADVISER, folder, mail("M3-C1-20261118#record"), resume=True) is not None
    box = graph.mailbox(ADVISER)
    names = [f["displayName"] for f in box.folders.values()]
    assert names.count("Clients") == 1 and names.count("DUPONT Jean (C1)") == 1
    filed = [m for m in box.messages.values() if m["_folder"] != box.folder("sentitems")["id"]]
    assert len(filed) == 2 and all(m["isDraft"] is False and m["isRead"] is True for m in filed)


def test_replies_and_bounces_are_found_by_conversation_notes_are_not(backend, graph: GraphEmulator) -> None:
    sent = backend.send(ADVISER, mail())
    graph.client_reply(ADVISER, sent.id, "STOP")
    graph.bounce(ADVISER, sent.id)
    backend.notify(ADVISER, mail("digest:a:2026-11-25"))
    found = backend.inbox(ADVISER, EARLIER)
    assert sorted((m.bounce, m.conversation == sent.conversation) for m in found) == [(False, True), (True, True)]
    assert any(m.text.strip() == "STOP" for m in found)


def backend_message(spec: MailSpec) -> dict:
    return _message(spec, flags=None)


# --- the Sent Items delay: "The copy of the message is not created until the message successfully sends, which may
# take time" (concepts/outlook-immutable-id.md, "Immutable ID with sending mail"); GET of the draft's id: 404 meanwhile


def sent_items(graph: GraphEmulator) -> list[dict]:
    box = graph.mailbox(ADVISER)
    return [m for m in box.messages.values() if m["_folder"] == box.folder("sentitems")["id"]]


def test_a_send_resumed_before_the_copy_exists_sends_nothing_and_is_recorded_once_it_appears(backend, graph) -> None:
    graph.sent_items_delay = math.inf
    notes = Progress()
    first = backend.send(ADVISER, mail(), progress=notes)  # the send request made; then the run is killed
    assert notes.noted.split()[0] == first.id and sent_items(graph) == []
    with pytest.raises(Pending):  # resumed before the copy exists: handed over, not sent again
        backend.send(ADVISER, mail(), resume=True, progress=notes)
    assert graph.complete_sends() == 1
    again = backend.send(ADVISER, mail(), resume=True, progress=notes)
    (copy,) = sent_items(graph)
    assert copy["_sends"] == 1 and again.id == first.id and again.sent_at is not None
    assert again.message_id == first.message_id and again.conversation == first.conversation


def test_a_send_never_accepted_is_sent_once_when_resumed(backend, graph) -> None:
    graph.sent_items_delay, backend.sleep = math.inf, lambda _s: None
    graph.fail("POST", r"/send$", status=503, times=6)  # never accepted: the draft stays in Drafts
    notes = Progress()
    with pytest.raises(BackendError):
        backend.send(ADVISER, mail(), progress=notes)
    box = graph.mailbox(ADVISER)
    assert [m["_folder"] for m in box.messages.values()] == [box.folder("drafts")["id"]]
    backend.send(ADVISER, mail(), resume=True, progress=notes)
    graph.complete_sends()
    (copy,) = sent_items(graph)
    assert copy["_sends"] == 1 and len(box.messages) == 1


@pytest.mark.parametrize("status", [409, 400])
def test_a_folder_made_meanwhile_is_recognised_by_graph_s_code_whatever_the_status(backend, graph, status) -> None:
    """ErrorFolderExists: the code is documented (EWS ResponseCode), the status is not (400 and 409 reported)."""
    graph.folder_exists_status = status
    backend.sleep = lambda _s: None
    graph.fail("POST", r"/childFolders$", status=504, executed=True)  # "Clients" made, the answer lost; retried
    backend.file(ADVISER, ("Clients", "DUPONT Jean (C1)"), mail("M3-C1-20261118#record"))
    names = [f["displayName"] for f in graph.mailbox(ADVISER).folders.values()]
    assert names.count("Clients") == 1 and names.count("DUPONT Jean (C1)") == 1


def test_a_copy_still_missing_a_day_after_the_send_is_reported_and_never_sent_again(backend, graph) -> None:
    graph.sent_items_delay = math.inf
    notes = Progress()
    first = backend.send(ADVISER, mail(), progress=notes)
    graph.mailbox(ADVISER).messages.clear()  # the copy will never come (deleted while on its way)
    yesterday = (datetime.now(UTC) - timedelta(hours=25)).isoformat(timespec="seconds")
    with pytest.raises(BackendError, match="never reached Sent Items") as caught:
        backend.send(ADVISER, mail(), resume=True, progress=Progress(f"{first.id} {yesterday}"))
    assert caught.value.code == "SentCopyMissing" and not isinstance(caught.value, Pending)
    assert graph.mailbox(ADVISER).messages == {}  # nothing made, nothing sent again
