"""Measure: how m3mail's classifier reads a corpus of real mail it was not written with.

Run on demand (not collected by pytest), on a folder of ``.eml`` files, e.g. a checkout of the public corpus
https://github.com/sisimai/set-of-emails (hundreds of real, anonymised failure reports from about 80 mail
systems, complaints and automatic replies; not part of this repository):
    .venv/bin/python tests/perf/bench_mail_corpus.py set-of-emails/maildir/bsd [more folders]

Each file is read as the local backend reads an Inbox message (m3mail.backends.mime, then m3mail.classify). What
a file is comes from its name, as sisimai names them: ``arf-*`` complaints (feedback reports), ``rfc3834-*``
automatic replies, the others failure or delay reports. Printed: the share of reports recognised as a failure or
a delay, of complaints as complaints, of automatic replies as automatic, the files taken for a person's reply
(the count that must be 0: a false reply would end a follow-up on words nobody wrote), and every miss with the
classifier's reason.
"""

from __future__ import annotations

import argparse
import email.policy
import sys
from collections import Counter
from email.parser import BytesParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from m3mail.backends import mime  # noqa: E402
from m3mail.classify import classify  # noqa: E402
from m3mail.models import MailKind  # noqa: E402

EXPECTED = {"feedback": {MailKind.FEEDBACK}, "auto": {MailKind.AUTO}, "report": {MailKind.BOUNCE, MailKind.DELAY}}


def family(name: str) -> str:
    return "feedback" if name.startswith("arf") else "auto" if name.startswith("rfc3834") else "report"


def read(path: Path) -> tuple[MailKind, str]:
    msg = BytesParser(policy=email.policy.default).parsebytes(path.read_bytes())
    if not mime.readable(msg):
        return MailKind.UNREADABLE, "not readable as mail"
    verdict = classify(mime.view_of(msg))
    return verdict.kind, verdict.reason


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args()
    seen: Counter[str] = Counter()
    right: Counter[str] = Counter()
    misses, replies = [], []
    for folder in args.folders:
        for path in sorted(folder.glob("*.eml")):
            kind, reason = read(path)
            group = family(path.name)
            seen[group] += 1
            if kind in EXPECTED[group]:
                right[group] += 1
            else:
                misses.append(f"  {path.name}: {group} read as {kind.value} ({reason})")
            if kind in (MailKind.REPLY, MailKind.STOP):
                replies.append(path.name)
    for group in ("report", "feedback", "auto"):
        if seen[group]:
            print(f"{group}: {right[group]}/{seen[group]} recognised ({right[group] / seen[group]:.1%})")
    print(f"taken for a person's reply: {len(replies)} of {sum(seen.values())} files")
    print("\n".join(misses))


if __name__ == "__main__":
    main()
