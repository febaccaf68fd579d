"""Benchmark: what an idle run costs in Graph requests per adviser, as the calendars' history grows.

Run on demand (not collected by pytest):
    .venv/bin/python tests/perf/bench_graph_idle.py [--advisers 10] [--history 0 1000 5000] [--open 3]

Each adviser has ``--open`` calls booked and awaiting their outcome (a morning run booked them), and ``--history``
past m3mail events in the calendar (years of follow-ups: events carrying m3mail's key property, all done). The
Graph emulator pages as Graph does: at most 100 items a page, for ``$top=100`` (the backend's). The run timed and
counted is the next one, 15 minutes later, with nothing new to book, email or file: it reads the open calls'
outcomes. Printed, for each history: HTTP requests per adviser, the operations they carried, the wall time, and
their ratio to the same figures with no history (the baseline, measured in the same run). Flat is the target: a
run's cost must follow the open work, not the years behind it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from m3mail.job import run_once  # noqa: E402
from m3mail.settings import load_settings  # noqa: E402
from tests.graph.emulator import GraphEmulator  # noqa: E402
from tests.perf.bench_graph_run import TODAY, adviser, write_folder  # noqa: E402

PARIS = ZoneInfo("Europe/Paris")
KEY_PROPERTY = "String {5c9b6a38-3f0e-4d8b-9d43-0f7c2c8e5a11} Name m3mailKey"  # the backend's, as Graph stores it
GRAPH_PAGE = 100  # what Graph gives for $top=100


def add_history(graph: GraphEmulator, advisers: int, events: int) -> None:
    """``events`` past m3mail calls in each calendar, one every few days over the years before, all done."""
    for i in range(advisers):
        box = graph.mailbox(adviser(i))
        for n in range(events):
            start = datetime(2026, 11, 2, 10, tzinfo=PARIS) - timedelta(days=2 * (n + 1))
            key = f"M3-H{i:03d}{n:05d}-{start:%Y%m%d}#call1"
            body = {"subject": "M+3 · Mme NOM · IARD", "transactionId": key, "showAs": "busy",
                    "categories": ["M+3 Satisfait"], "body": {"contentType": "html", "content": "<p>brief</p>"},
                    "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "Europe/Paris"},
                    "end": {"dateTime": (start + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%S"),
                            "timeZone": "Europe/Paris"},
                    "singleValueExtendedProperties": [{"id": KEY_PROPERTY, "value": key}]}  # fmt: skip
            graph.create_event(box.address, body)


def measure(advisers: int, history: int, open_calls: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="m3mail-bench-") as tmp:
        folder = Path(tmp)
        graph = GraphEmulator(mailboxes=tuple(adviser(i) for i in range(advisers)), page_size=GRAPH_PAGE)
        graph.start(folder=folder / "tls")
        try:
            path = write_folder(folder, advisers, 16, graph.base_url, str(graph.ca_file), open_calls)
            settings = load_settings(path)
            morning = datetime.combine(TODAY, clock(8), PARIS)
            booked = run_once(settings, morning, echo=lambda _s: None)  # the day's calls, awaiting their outcome
            assert sum(r.booked for r in booked.advisers.values()) == advisers * open_calls, booked.advisers
            add_history(graph, advisers, history)
            start = time.perf_counter()
            idle = run_once(settings, morning + timedelta(minutes=15), echo=lambda _s: None)
            wall = time.perf_counter() - start
        finally:
            graph.stop()
    errors = sum(len(r.errors) for r in idle.advisers.values())
    return {"wall": wall, "errors": errors, "requests": idle.usage.get("requests", 0) / advisers,
            "operations": idle.usage.get("operations", 0) / advisers}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--advisers", type=int, default=10)
    parser.add_argument("--history", type=int, nargs="+", default=[0, 1000, 5000])
    parser.add_argument("--open", type=int, default=3, help="calls booked and awaiting their outcome, per adviser")
    args = parser.parse_args()
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "M3MAIL_EMULATOR_LOG"):
        os.environ.pop(name, None)
    os.environ["M3MAIL_CLIENT_SECRET"] = "bench"
    base = None
    print(f"{args.advisers} advisers, {args.open} open calls each; Graph pages of {GRAPH_PAGE}")
    for history in args.history:
        m = measure(args.advisers, history, args.open)
        base = base or m
        print(f"history {history:>6} past m3mail events per calendar: {m['requests']:.2f} requests per adviser "
              f"({m['requests'] / base['requests']:.2f}x the baseline), {m['operations']:.2f} operations, "
              f"{m['wall']:.2f} s ({m['wall'] / base['wall']:.2f}x), {m['errors']:.0f} errors")  # fmt: skip


if __name__ == "__main__":
    main()
