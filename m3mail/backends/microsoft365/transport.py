"""Graph requests as m3mail makes them: steps, plain requests or $batch, one retry policy, limits and counts.

An operation is written once, as a *step*: a generator that yields the Graph requests it needs one after the
other and receives their answers (or has their error thrown in). ``GraphClient.drive`` runs one step with plain
requests, or several (the writes of a run, by kind and mailbox) in lockstep: the requests of one round belong to
different steps, so none needs another's answer, and they travel together in JSON ``$batch`` requests.

A batch is *fully parallel*: no ``dependsOn``. Microsoft's JSON batching page (concepts/json-batching.md):
"Batch should be either fully sequential or fully parallel", and Graph refuses a batch that mixes the two, whole,
with 400. The requests of a parallel batch run at once, and Exchange runs at most 4 requests at once per app and
mailbox (429 ApplicationThrottled past that, shared/graph README "Outlook limits"): a batch carries at most
``per_mailbox`` requests, and holds that many of the mailbox's slots. Never more than ``per_mailbox`` requests
are in flight at once for one mailbox, whatever the threads.

One retry policy (``GraphClient._retrying``) serves a plain request and each request of a batch: at most 6 tries
and ``max_wait`` seconds of waiting in all, after what Graph asks (``Retry-After``: seconds, a fraction, or an
HTTP-date) or 1, 2, 4... s. What is retried: throttling (429), 503, 424 (a batch request not run) always;
a 504 or an answer lost with its connection (the request may have been carried out) only for a request that is
harmless twice (a GET, what Graph de-duplicates). Any other write is handed back to its step with
``maybe_done``, and the step looks for what it wrote by its key before writing again.

Every request goes through O365's authenticated connection (one per thread, one token for all).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import requests
from tenacity import RetryCallState, Retrying

from m3mail.backends.microsoft365.connection import GraphAccess, graph_account
from m3mail.errors import BackendError, MailboxUnavailable

_PREFER = 'IdType="ImmutableId", outlook.timezone="UTC", outlook.body-content-type="text"'
# 424: a batch request not run because another failed (json-batching); 429, 503: not carried out, try later;
# 504: a gateway got no answer in time, the request may have been carried out (graph/errors, shared/graph README)
RETRYABLE = {424, 429, 503, 504}
MAYBE_DONE = {504}
ATTEMPTS = 6
BATCH_SIZE = 20  # Graph's $batch takes at most 20 requests (json-batching, "Batch size limitations")
T = TypeVar("T")


@dataclass(frozen=True)
class Request:
    """One Graph request of a step. ``repeatable``: sending it twice does no harm (GETs, and writes Graph
    de-duplicates or m3mail recognises as done: an event's transactionId, a folder's ErrorFolderExists); None
    means "a GET"."""

    operation: str  # what it is for, in error messages ("create call", "find folder"...)
    method: str
    url: str  # absolute: the base's, or an @odata.nextLink
    params: Mapping[str, str] | None = None
    body: Mapping[str, Any] | None = None
    repeatable: bool | None = None

    @property
    def safe_to_repeat(self) -> bool:
        return self.method == "get" if self.repeatable is None else self.repeatable


Step = Generator[Request, Any, T]


class Slots:
    """At most ``limit`` requests in flight per mailbox, across threads (Exchange: 4 per app and mailbox)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, mailbox: str, n: int = 1) -> Iterator[None]:
        key, n = mailbox.lower(), min(n, self.limit)
        with self._cond:
            self._cond.wait_for(lambda: self.used[key] + n <= self.limit)
            self.used[key] += n
            self.peak[key] = max(self.peak[key], self.used[key])
        try:
            yield
        finally:
            with self._cond:
                self.used[key] -= n
                self._cond.notify_all()


class GraphClient:
    """Requests to Graph for the backend: through O365, retried, limited per mailbox, counted."""

    def __init__(self, access: GraphAccess, *, per_mailbox: int = 4, batching: bool = True,
                 sleep: Callable[[float], None] = time.sleep, max_wait: float = 120.0):  # fmt: skip
        self.access = access
        self.sleep, self.max_wait, self.batching = sleep, max_wait, batching
        self.base = f"{access.graph_url.rstrip('/')}/v1.0"
        self.slots = Slots(per_mailbox)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[Any] = []
        self._msal: Any = None
        self._counts: Counter[str] = Counter()

    @property
    def con(self) -> Any:
        """This thread's O365 connection (requests sessions are not shared across threads); one msal
        application, hence one token, for all."""
        con = getattr(self._local, "con", None)
        if con is None:
            con = graph_account(self.access).con
            with self._lock:
                if self._msal is None:
                    self._msal = con.msal_client
                con._msal_client = self._msal
                self._connections.append(con)
            self._local.con = con
        return con

    def usage(self) -> dict[str, int]:
        """HTTP requests made to Graph, the operations they carried (a $batch carries several; ``writes``: those
        not GETs), and how many $batch requests."""
        with self._lock:
            return dict(self._counts)

    def close(self) -> None:
        for con in self._connections:
            if con.session is not None:
                con.session.close()

    def run(self, mailbox: str, step: Step[T]) -> T:
        """One step, with plain requests; its error raised."""
        result = self.drive(mailbox, [step])[0]
        if isinstance(result, BackendError):
            raise result
        return result

    def drive(self, mailbox: str, steps: list[Step[T]]) -> list[T | BackendError]:
        """Run the steps in lockstep: each round, the requests they wait on go together (in parallel $batch
        requests of up to ``per_mailbox`` when there are several); each step gets its answer or its error."""
        results: list[Any] = [None] * len(steps)
        waiting: dict[int, Request] = {}

        def advance(i: int, answer: Any = None, error: BackendError | None = None) -> None:
            try:
                waiting[i] = steps[i].throw(error) if error is not None else steps[i].send(answer)
            except StopIteration as done:
                results[i] = done.value
            except BackendError as e:
                results[i] = e

        for i in range(len(steps)):
            advance(i)
        size = min(self.slots.limit, BATCH_SIZE) if self.batching else 1
        while waiting:
            round_ = list(waiting.items())
            waiting.clear()
            for chunk in (round_[n : n + size] for n in range(0, len(round_), size)):
                answers = self._batch(mailbox, chunk) if len(chunk) > 1 else self._each(mailbox, chunk)
                for i, answer in answers.items():
                    advance(i, error=answer) if isinstance(answer, BackendError) else advance(i, answer)
        return results

    def _each(self, mailbox: str, chunk: list[tuple[int, Request]]) -> dict[int, Any]:
        answers: dict[int, Any] = {}
        for i, request in chunk:
            try:
                answers[i] = self._request(mailbox, request)
            except BackendError as e:
                answers[i] = e
        return answers

    # --- $batch ----------------------------------------------------------------------------------------------

    def _batch(self, mailbox: str, chunk: list[tuple[int, Request]]) -> dict[int, Any]:
        """One fully parallel $batch for the chunk; what comes back to try again (throttled, not run,
        unavailable) goes again, alone, under the same retry policy as a plain request. Each request's answer,
        or its last error."""
        answers: dict[int, Any] = {}
        pending = dict(chunk)

        def attempt() -> None:
            items = list(pending.items())
            envelope = {"requests": [self._sub_request(i, request) for i, request in items]}
            batch = Request("batch", "post", f"{self.base}/$batch", body=envelope)
            try:
                reply, date = self._once(mailbox, batch, slots=len(items), carried=[r for _i, r in items])
            except BackendError as e:  # the batch as a whole: each of its requests met this error
                for i, request in items:
                    answers[i] = e
                    if not _may_retry(e, request):
                        del pending[i]
                if pending:
                    raise
                return
            self._read_responses(mailbox, reply, date, pending, answers)

        with suppress(BackendError):  # the policy gave up: each request's last error is its answer
            self._retrying(attempt, repeatable=True)
        return answers

    def _read_responses(self, mailbox: str, reply: dict[str, Any], date: datetime | None,
                        pending: dict[int, Request], answers: dict[int, Any]) -> None:  # fmt: skip
        """Each response of a batch reply, in whatever order Graph gives them; raises (retryable) when some
        requests are to be sent again, with the longest wait they asked for."""
        waits: list[float | None] = []
        answered: set[int] = set()
        for response in reply.get("responses", []):
            i = _int(response.get("id"))
            if i not in pending:
                continue
            answered.add(i)
            status = _int(response.get("status"), 500)
            if status < 400:
                answers[i] = response.get("body") or {}
                del pending[i]
                continue
            error = error_of(mailbox, pending[i].operation, status, response.get("body"),
                             response.get("headers") or {}, date)  # fmt: skip
            answers[i] = error
            if _may_retry(error, pending[i]):
                waits.append(error.retry_after)
            else:
                del pending[i]
        for i in [i for i in pending if i not in answered]:
            answers[i] = BackendError(mailbox, pending[i].operation, "no answer in the $batch reply",
                                      retryable=True, maybe_done=True)  # fmt: skip
            if not pending[i].safe_to_repeat:
                del pending[i]
        if pending:
            known = [w for w in waits if w is not None]
            raise BackendError(mailbox, "batch", f"{len(pending)} request(s) to send again", retryable=True,
                               retry_after=max(known) if known else None)  # fmt: skip

    def _sub_request(self, i: int, request: Request) -> dict[str, Any]:
        url = request.url.removeprefix(self.base)
        if request.params:
            url += "?" + urlencode(request.params, quote_via=quote, safe="$'(),:/@")
        sub: dict[str, Any] = {"id": str(i), "method": request.method.upper(), "url": url,
                               "headers": {"Prefer": _PREFER}}  # fmt: skip
        if request.body is not None or request.method in ("post", "patch", "put"):
            # json-batching: "When a body is supplied, a Content-Type header must be included"; a write without a
            # body is refused in a batch, so an action's is {} (the page's own getPasswordSingleSignOnCredentials)
            sub["body"] = request.body or {}
            sub["headers"]["Content-Type"] = "application/json"
        return sub

    # --- one retry policy -----------------------------------------------------------------------------------

    def _retrying(self, attempt: Callable[[], T], *, repeatable: bool) -> T:
        """``attempt()`` until it succeeds, fails in a way trying again cannot cure, or the policy gives up (the
        last error raised): at most ATTEMPTS tries, waiting Retry-After when Graph says it (else 1, 2, 4... s),
        never more than ``max_wait`` seconds in all."""
        slept = 0.0

        def retry(state: RetryCallState) -> bool:
            error = state.outcome.exception() if state.outcome else None
            return isinstance(error, BackendError) and error.retryable and (repeatable or not error.maybe_done)

        def delay(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            after = getattr(error, "retry_after", None)
            return after if after is not None else float(min(2 ** (state.attempt_number - 1), 30))

        def stop(state: RetryCallState) -> bool:
            return state.attempt_number >= ATTEMPTS or slept + delay(state) > self.max_wait

        def nap(seconds: float) -> None:
            nonlocal slept
            slept += seconds
            self.sleep(seconds)

        return Retrying(retry=retry, wait=delay, stop=stop, sleep=nap, reraise=True)(attempt)

    # --- HTTP, through O365's connection -------------------------------------------------------------------

    def _request(self, mailbox: str, request: Request) -> dict[str, Any]:
        """A plain request under the retry policy. What is left fails to the step (or the executor, whose
        next try resumes: looks before writing)."""
        return self._retrying(lambda: self._once(mailbox, request)[0], repeatable=request.safe_to_repeat)

    def _once(self, mailbox: str, request: Request, *, slots: int = 1,
              carried: list[Request] | None = None) -> tuple[dict[str, Any], datetime | None]:  # fmt: skip
        """The request, sent once: its JSON answer and the answer's Date (for a Retry-After given as a date
        inside it), or a BackendError."""
        carried = carried or [request]
        headers = {"Prefer": 'outlook.timezone="UTC", outlook.body-content-type="text"'}
        kwargs: dict[str, Any] = {"headers": headers}
        if request.params is not None:
            kwargs["params"] = dict(request.params)
        if request.body is not None:
            kwargs["data"] = dict(request.body)
        with self._lock:
            self._counts["requests"] += 1
            self._counts["operations"] += len(carried)
            self._counts["writes"] += sum(r.method != "get" for r in carried)
            if request.operation == "batch":
                self._counts["batches"] += 1
                self._counts["batched"] += len(carried)
        try:
            with self.slots.hold(mailbox, slots):
                reply = getattr(self.con, request.method)(request.url, **kwargs)
        except requests.HTTPError as e:
            raise translated(mailbox, request.operation, e.response) from None
        except requests.ConnectTimeout as e:  # never reached Graph
            raise BackendError(mailbox, request.operation, f"connection failed: {type(e).__name__}",
                               retryable=True) from None  # fmt: skip
        except (requests.ConnectionError, requests.Timeout) as e:  # sent, and the answer lost: maybe carried out
            raise BackendError(mailbox, request.operation, f"connection failed: {type(e).__name__}",
                               retryable=True, maybe_done=True) from None  # fmt: skip
        except PermissionError as e:  # no token: the app registration or its secret
            raise MailboxUnavailable(mailbox, request.operation, f"no access token: {e}") from None
        body = reply.json() if reply is not None and reply.content else {}
        return body, _http_date(reply.headers.get("Date")) if reply is not None else None


def one(request: Request) -> Step[dict[str, Any]]:
    """A step of one request."""
    answer: dict[str, Any] = yield request
    return answer


def _may_retry(error: BackendError, request: Request) -> bool:
    return error.retryable and (request.safe_to_repeat or not error.maybe_done)


def _int(value: Any, default: int = -1) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def translated(mailbox: str, operation: str, response: requests.Response | None) -> BackendError:
    if response is None:
        return BackendError(mailbox, operation, "Graph refused the request")
    try:
        body = response.json()
    except ValueError:
        body = None
    return error_of(mailbox, operation, response.status_code, body, response.headers,
                    _http_date(response.headers.get("Date")))  # fmt: skip


def error_of(mailbox: str, operation: str, status: int, body: Any, headers: Mapping[str, str],
             date: datetime | None = None) -> BackendError:  # fmt: skip
    """A Graph error (a reply, or a $batch response) as a BackendError: status, Graph's code (graph/errors:
    branch on the code, never on the message), the wait Graph asks for, and whether it may have been done."""
    error = body.get("error", {}) if isinstance(body, dict) else {}
    error = error if isinstance(error, dict) else {}
    code, message = str(error.get("code") or ""), str(error.get("message") or "")
    denied = ("ErrorInvalidUser", "ErrorAccessDenied", "Authorization_RequestDenied")
    kind = MailboxUnavailable if status in (403, 404) and code in denied else BackendError
    after = next((str(v) for k, v in headers.items() if k.lower() == "retry-after"), None)
    own_date = next((str(v) for k, v in headers.items() if k.lower() == "date"), None)
    return kind(mailbox, operation, message or f"Graph answered {status}", retryable=status in RETRYABLE,
                status=status, code=code, retry_after=retry_after_seconds(after, _http_date(own_date) or date),
                maybe_done=status in MAYBE_DONE)  # fmt: skip


def retry_after_seconds(value: str | None, date: datetime | None = None) -> float | None:
    """A Retry-After value in seconds: delay-seconds (Microsoft's examples: whole seconds; fractions occur, such
    as ``0.249`` inside $batch answers) or an HTTP-date (RFC 9110 section 10.2.3), counted from the answer's own
    Date when it has one, else from now. None when absent or unreadable (then the policy backs off itself)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        when = _http_date(text)
        if when is None:
            return None
        seconds = (when - (date or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if seconds == seconds and seconds != float("inf") else None  # not NaN, not inf


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
