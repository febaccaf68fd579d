"""Graph requests as m3mail makes them: steps, plain requests or $batch, retries, limits and counts.

An operation is written once, as a *step*: a generator that yields the Graph requests it needs one after the
other and receives their answers (or has their error thrown in). ``GraphClient.drive`` runs one step with plain
requests, or several (the writes of a run, by kind and mailbox) in lockstep, their requests of each round sent
together in JSON ``$batch`` requests of up to 20. Never more than ``per_mailbox`` requests are in flight at once
for one mailbox, whatever the threads: a batch takes as many slots as it runs requests at once (``dependsOn``
chains them). Every request goes through O365's authenticated connection (one per thread, one token for all).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import requests
from tenacity import RetryCallState, Retrying

from m3mail.backends.microsoft365.connection import GraphAccess, graph_account
from m3mail.errors import BackendError, MailboxUnavailable

_PREFER = 'IdType="ImmutableId", outlook.timezone="UTC", outlook.body-content-type="text"'
RETRYABLE = {429, 503, 504}
BATCH_SIZE = 20  # Graph's $batch takes at most 20 requests
T = TypeVar("T")


@dataclass(frozen=True)
class Request:
    """One Graph request of a step. ``repeatable``: sending it twice does no harm (GETs, what Graph
    de-duplicates); None means "a GET"."""

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
        """Run the steps in lockstep: each round, the requests they wait on go together (in $batch requests
        of up to 20 when there are several); each step gets its answer or its error."""
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
        while waiting:
            round_, batch = list(waiting.items()), self.batching and len(waiting) > 1
            waiting.clear()
            chunks = [round_[n:n + BATCH_SIZE] for n in range(0, len(round_), BATCH_SIZE)] if batch else [round_]
            for chunk in chunks:
                answers = self._batch(mailbox, chunk) if batch and len(chunk) > 1 else self._each(mailbox, chunk)
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

    def _batch(self, mailbox: str, chunk: list[tuple[int, Request]]) -> dict[int, Any]:
        """One $batch request for the chunk, in at most ``per_mailbox`` dependsOn chains (Exchange runs the
        others of a mailbox at once and throttles past 4). What comes back throttled (429), not run
        (424) or unavailable (503, 504) goes again in a smaller batch, after the wait Graph asks for."""
        answers: dict[int, Any] = {}
        pending = dict(chunk)
        slept, attempt = 0.0, 0
        while pending:
            lanes = min(self.slots.limit, len(pending))
            items = list(pending.items())
            envelope = {"requests": [self._sub_request(i, request, items[k - lanes][0] if k >= lanes else None)
                                     for k, (i, request) in enumerate(items)]}  # fmt: skip
            batch = Request("batch", "post", f"{self.base}/$batch", body=envelope,
                            repeatable=all(r.safe_to_repeat for _i, r in items))  # fmt: skip
            try:
                reply = self._request(mailbox, batch, slots=lanes, carried=[r for _i, r in items])
            except BackendError as e:
                return answers | {i: e for i in pending}
            wait = 0.0
            for response in reply.get("responses", []):
                i = int(response.get("id", -1))
                if i not in pending:
                    continue
                status = int(response.get("status", 500))
                if status < 400:
                    answers[i] = response.get("body") or {}
                    del pending[i]
                    continue
                error = error_of(mailbox, pending[i].operation, status, response.get("body"),
                               response.get("headers") or {})  # fmt: skip
                if status in (424, *RETRYABLE):
                    answers[i] = error  # kept, in case no more attempt is allowed
                    wait = max(wait, error.retry_after if error.retry_after is not None else 2.0**attempt)
                else:
                    answers[i] = error
                    del pending[i]
            for i in pending:
                answers.setdefault(i, BackendError(mailbox, pending[i].operation, "no answer in the $batch reply",
                                                   retryable=True))  # fmt: skip
            attempt += 1
            if not pending or attempt >= 6 or slept + wait > self.max_wait:
                break
            slept += wait
            self.sleep(wait)
        return answers

    def _sub_request(self, i: int, request: Request, after: int | None) -> dict[str, Any]:
        url = request.url.removeprefix(self.base)
        if request.params:
            url += "?" + urlencode(request.params, quote_via=quote, safe="$'(),:/@")
        sub: dict[str, Any] = {"id": str(i), "method": request.method.upper(), "url": url,
                               "headers": {"Prefer": _PREFER}}  # fmt: skip
        if request.body is not None or request.method in ("post", "patch", "put"):
            sub["body"] = request.body or {}  # Graph refuses a write in a batch without a body (an action's: {})
            sub["headers"]["Content-Type"] = "application/json"
        if after is not None:
            sub["dependsOn"] = [str(after)]
        return sub

    # --- HTTP, through O365's connection -------------------------------------------------------------------

    def _request(self, mailbox: str, request: Request, *, slots: int = 1,
                 carried: list[Request] | None = None) -> dict[str, Any]:  # fmt: skip
        """A request, retried on throttling (429, after Retry-After when Graph gives it) and when Graph is
        unavailable (503, 504), and after a dropped connection when repeating it is harmless (GETs, and what
        Graph de-duplicates); the waiting is bounded by ``max_wait``. What is left fails to the executor, whose
        next try resumes (looks before writing)."""
        slept = 0.0

        def retry(state: RetryCallState) -> bool:
            error = state.outcome.exception() if state.outcome else None
            if not isinstance(error, BackendError) or not error.retryable:
                return False
            return error.status is not None or request.safe_to_repeat  # no status: the connection dropped mid-way

        def delay(state: RetryCallState) -> float:
            """Retry-After when Graph says it, else 1, 2, 4... seconds."""
            error = state.outcome.exception() if state.outcome else None
            after = getattr(error, "retry_after", None)
            return after if after is not None else float(min(2 ** (state.attempt_number - 1), 30))

        def stop(state: RetryCallState) -> bool:
            return state.attempt_number >= 6 or slept + delay(state) > self.max_wait

        def nap(seconds: float) -> None:
            nonlocal slept
            slept += seconds
            self.sleep(seconds)

        retrying = Retrying(retry=retry, wait=delay, stop=stop, sleep=nap, reraise=True)
        return retrying(self._once, mailbox, request, slots, carried or [request])

    def _once(self, mailbox: str, request: Request, slots: int, carried: list[Request]) -> dict[str, Any]:
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
        except (requests.ConnectionError, requests.Timeout) as e:
            raise BackendError(mailbox, request.operation, f"connection failed: {type(e).__name__}",
                               retryable=True) from None  # fmt: skip
        except PermissionError as e:  # no token: the app registration or its secret
            raise MailboxUnavailable(mailbox, request.operation, f"no access token: {e}") from None
        return reply.json() if reply is not None and reply.content else {}


def one(request: Request) -> Step[dict[str, Any]]:
    """A step of one request."""
    return (yield request)



def translated(mailbox: str, operation: str, response: requests.Response | None) -> BackendError:
    if response is None:
        return BackendError(mailbox, operation, "Graph refused the request")
    try:
        body = response.json()
    except ValueError:
        body = None
    return error_of(mailbox, operation, response.status_code, body, response.headers)


def error_of(mailbox: str, operation: str, status: int, body: Any, headers: Mapping[str, str]) -> BackendError:
    """A Graph error (a reply, or a $batch response) as a BackendError: status, Graph code, Retry-After."""
    error = body.get("error", {}) if isinstance(body, dict) else {}
    code, message = error.get("code", ""), error.get("message", "")
    denied = ("ErrorInvalidUser", "ErrorAccessDenied", "Authorization_RequestDenied")
    kind = MailboxUnavailable if status in (403, 404) and code in denied else BackendError
    after = next((str(v) for k, v in headers.items() if k.lower() == "retry-after"), None)
    return kind(mailbox, operation, message or f"Graph answered {status}", retryable=status in RETRYABLE,
                status=status, code=code, retry_after=float(after) if after and after.isdigit() else None)  # fmt: skip


