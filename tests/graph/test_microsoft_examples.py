"""Microsoft's own example responses (tests/graph/microsoft/, each file naming its page and commit) read by the
backend's parsing: what Graph is documented to answer must be read, and what its examples leave out must give a
clear error, never a KeyError. These answers were written by Microsoft, not by the emulator's authors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import pytest

from m3mail.backends.base import CATEGORY_COLOURS
from m3mail.backends.microsoft365.shapes import (
    KEY_PROPERTY,
    Unreadable,
    availability_of,
    event_of,
    handed_over,
    inbound,
    key_of,
)
from m3mail.backends.microsoft365.transport import GraphClient, Request, error_of
from m3mail.errors import BackendError, MailboxUnavailable
from m3mail.models import MailKind
from tests.graph.conftest import ADVISER

EXAMPLES = Path(__file__).with_name("microsoft")


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def body(name: str) -> Any:
    return example(name)["response"]["body"]


def test_every_fixture_names_its_page() -> None:
    for path in EXAMPLES.glob("*.json"):
        source = json.loads(path.read_text(encoding="utf-8"))["source"]
        assert source["repo"] == "microsoftgraph/microsoft-graph-docs-contrib" and len(source["commit"]) == 40
        assert source["path"].endswith(".md"), path.name


# --- events and calendarView -------------------------------------------------------------------------------


def test_listed_events_answered_in_pacific_time_are_read(tmp_path) -> None:
    """user-list-events.md: Prefer: outlook.timezone="Pacific Standard Time", seven decimals, an HTML body."""
    (event,) = body("list_events")["value"]
    read = event_of(event)
    assert read.id == "AAMkAGIAAAoZDOFAAA=" and read.subject == "Orientation "
    assert (read.start, read.end) == (datetime(2017, 4, 21, 17, tzinfo=UTC), datetime(2017, 4, 21, 19, tzinfo=UTC))
    assert read.notes.strip() == "Dana, this is the time you selected for our orientation. Please bring the notes " \
        "I sent you." and read.key is None and not read.free  # fmt: skip


def test_an_event_read_by_its_id_is_read_in_the_zone_its_values_say() -> None:
    """event-get.md: Preference-Applied says Pacific, the values say UTC: each value's own timeZone wins."""
    read = event_of(body("get_event"))
    assert read.start == datetime(2014, 11, 3, 17, tzinfo=UTC)
    assert "<" not in read.notes and "New Product Regulations Strategy Online Touchpoint Meeting" in read.notes


def test_a_truncated_calendar_view_item_is_a_clear_error_not_a_key_error() -> None:
    """user-list-calendarview.md's example prints an event without id, start nor end ("truncated")."""
    (event,) = body("list_calendarview")["value"]
    with pytest.raises(Unreadable, match="an event without id, start, end"):
        event_of(event)


def test_only_m3mail_s_own_extended_property_is_taken_for_its_key() -> None:
    """singlevaluelegacyextendedproperty-get.md: {id, value} pairs, the id as written at creation."""
    message = body("get_message_extended_property")
    assert key_of(message) is None  # someone else's property ("Name Color")
    ours = {**message, "singleValueExtendedProperties": [{"id": KEY_PROPERTY, "value": "M3-C1-20261118#email"}]}
    assert key_of(ours) == "M3-C1-20261118#email"


# --- messages ------------------------------------------------------------------------------------------------


def test_a_message_in_text_is_read_as_the_client_wrote_it() -> None:
    """message-get.md: outlook.body-content-type="text", CRLF line ends; receivedDateTime as Graph writes it."""
    message = {**body("get_message_text_body"), "receivedDateTime": "2017-04-14T09:00:00Z",
               "from": {"emailAddress": {"name": "Samantha Booth", "address": "SamanthaB@contoso.onmicrosoft.com"}}}
    read = inbound(message)
    assert read.subject == "Welcome to our group!" and read.sender == "samanthab@contoso.onmicrosoft.com"
    assert read.text.startswith("Welcome to our group, Dana!") and read.html == ""
    assert read.received_at == datetime(2017, 4, 14, 9, tzinfo=UTC)


def test_internet_message_headers_are_read_by_name() -> None:
    """message-get.md: internetMessageHeaders as {name, value} pairs (here a report's Content-Type)."""
    message = {**body("list_messages_internet_headers"), "receivedDateTime": "2017-04-14T09:00:00Z"}
    sent = body("create_message")["internetMessageId"]  # the draft's Message-ID, as user-post-messages.md shows it
    message["internetMessageHeaders"] = [*message["internetMessageHeaders"], {"name": "In-Reply-To", "value": sent}]
    assert inbound(message).in_reply_to == (sent,)


def test_a_message_without_its_received_time_is_unreadable_not_a_key_error() -> None:
    """user-list-messages.md's example selects sender and subject only: no receivedDateTime, "from" absent."""
    (message, *_) = body("list_messages")["value"]
    read = inbound(message)
    assert read.kind is MailKind.UNREADABLE and read.id == message["id"] and "without its id or time" in read.reason


def test_a_draft_s_answer_gives_what_the_email_is_recorded_with() -> None:
    """user-post-messages.md: the 201 draft has internetMessageId and conversationId (replies link by them);
    sentDateTime is set on the draft too, and is not the time it was sent."""
    sent = handed_over(body("create_message"))
    assert (sent.id, sent.conversation, sent.sent_at) == ("AAMkADNlNYjSAAA=", "AAQkADNlNFdXGBnqtY=", None)
    assert sent.message_id == "<MWHPR1301MB@MWHPR1301MB.namprd13.prod.outlook.com>"


# --- mailboxSettings ----------------------------------------------------------------------------------------


def test_microsoft_s_mailbox_settings_examples_are_read() -> None:
    pacific = availability_of(body("get_mailboxsettings_1"))  # "Scheduled", working hours in Pacific time
    assert pacific.timezone == "America/Los_Angeles" and pacific.working_hours == (time(8), time(17))
    assert pacific.away == ((datetime(2016, 3, 14, 7, tzinfo=UTC), datetime(2016, 3, 28, 7, tzinfo=UTC)),)
    replies = availability_of({"automaticRepliesSetting": body("get_mailboxsettings_2")})  # "alwaysEnabled"
    assert len(replies.away) == 1 and replies.away[0][1] is None and replies.working_hours is None
    custom = availability_of({"workingHours": body("get_mailboxsettings_3")})  # a customTimeZone
    assert custom.working_hours is None and "Customized Time Zone" in custom.problem
    assert availability_of(body("get_mailboxsettings_4")).away == ()  # userPurpose only: nothing said


# --- masterCategories, through the backend and the emulator ------------------------------------------------


def test_an_existing_category_list_is_kept_and_completed(backend, graph) -> None:
    """outlookuser-list-mastercategories.md's list in the mailbox: m3mail adds its seven, touches none."""
    box = graph.mailbox(ADVISER)
    for category in body("list_mastercategories")["value"]:
        box.categories[category["id"]] = dict(category)
    backend.ensure_categories(ADVISER, CATEGORY_COLOURS)
    names = {c["displayName"]: c["color"] for c in box.categories.values()}
    assert names["Red category"] == "preset0" and len(names) == 6 + len(CATEGORY_COLOURS)


# --- $batch answers and error bodies --------------------------------------------------------------------------


def test_a_batch_answer_is_matched_by_id_each_with_its_own_status_and_error() -> None:
    """json-batching.md's example answer: 200 and 403s and a 405, out of the requests' order."""
    client = GraphClient.__new__(GraphClient)  # the reading of an answer needs no connection
    pending = {n: Request(f"request {n}", "get", f"https://graph.microsoft.com/v1.0/x/{n}") for n in range(1, 6)}
    answers: dict[int, Any] = {}
    client._read_responses(ADVISER, body("batch_response"), None, pending, answers)
    assert pending == {}  # nothing to send again: none of these errors is cured by waiting
    assert answers[1]["value"][0]["displayName"] == "User Administrator" and answers[5]["@odata.count"] == 36
    assert isinstance(answers[2], BackendError) and answers[2].status == 403 and answers[2].code == ""
    assert isinstance(answers[3], MailboxUnavailable) and answers[3].code == "Authorization_RequestDenied"
    assert answers[4].status == 405 and answers[4].code == "Request_BadRequest" and not answers[4].retryable


def test_microsoft_s_error_bodies_are_read_by_their_code() -> None:
    basic = error_of(ADVISER, "upload", 416, body("error_basic"), {})  # concepts/errors.md
    assert (basic.code, basic.detail, basic.retryable) == ("invalidRange", "Uploaded fragment overlaps with existing "
                                                            "data.", False)  # fmt: skip
    throttled = example("throttled_429")["response"]  # concepts/throttling.md: Retry-After 2.128
    error = error_of(ADVISER, "read", throttled["status"], throttled["body"], throttled["headers"])
    assert (error.status, error.code, error.retry_after, error.retryable) == (429, "TooManyRequests", 2.128, True)
