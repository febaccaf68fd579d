"""Benchmark: import and selection of a 1,000,000-row export, against a bare csv.reader pass.

Run on demand (not collected by pytest):   .venv/bin/python tests/perf/bench_import.py [--rows N] [--encoding E]

It writes a realistic export (effect dates spread over three years, so that a small share of the rows is in
its contact window on the day asked), then times, each in a fresh process so peak memory is its own:
  - baseline: ``for row in csv.reader(file): pass`` over the same file, same encoding;
  - m3mail:   ``commands.find_due`` (detection, streaming read, validation of the relevant rows, selection).
It prints both times, their ratio and each process's peak resident memory. Targets: ratio <= 2, peak < 300 MB.
``--encoding`` writes the export in another encoding than Excel's "CSV UTF-8" (utf-8-sig): ``utf-8`` (no byte
order mark: m3mail reads the file ahead to check it is UTF-8 throughout) or ``cp1252`` (Excel's plain "CSV":
m3mail looks for lines in UTF-8 among its lines).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

TODAY = date(2026, 11, 25)

BASELINE = """
import csv, json, resource, sys, time
start = time.perf_counter()
with open(sys.argv[1], encoding=sys.argv[2], newline="") as f:
    for row in csv.reader(f, delimiter=";"):
        pass
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

M3MAIL = """
import json, resource, sys, time
from datetime import date
from pathlib import Path
from m3mail import commands as service
from m3mail.settings import load_settings
settings = load_settings(Path(sys.argv[2]))
start = time.perf_counter()
result = service.find_due(settings, date.fromisoformat(sys.argv[3]), Path(sys.argv[1]))
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "due": len(result.selection.due), "validated": result.report.accepted,
                  "skipped": result.report.skipped, "rejected": len(result.report.rejected)}))
"""


def write_export(path: Path, rows: int, encoding: str = "utf-8-sig") -> None:
    """A French agency export: ';', UTF-8 with BOM (or ``encoding``), CRLF, 21 columns, ~1 row in 100 broken."""
    rng = random.Random(7)
    advisers = ["claire.martin@cabinet-exemple.fr", "thomas.bernard@cabinet-exemple.fr",
                "nadia.hoarau@cabinet-exemple.fr"]  # fmt: skip
    types = ["IARD", "Santé", "PREVOYANCE", "Épargne"]
    first_day = TODAY - timedelta(days=3 * 365)
    with path.open("w", encoding=encoding, newline="") as f:
        f.write("client_id;civilite;nom;prenom;email;telephone;adresse;code_postal;ville;conseiller;contrat;"
                "type;produit;date_effet;statut;prime_annuelle;garanties;sinistres;questions;vip;opposition\r\n")
        for n in range(rows):
            client = n // 2 if n % 3 else n  # some clients hold two contracts
            effect = first_day + timedelta(days=rng.randrange(3 * 365))
            when = effect.strftime("%d/%m/%Y") if n % 97 else "31/02/2026"
            f.write(
                f"C{client:07d};Mme;LEFÈVRE;Hélène;helene.lefevre{client}@example.com;06 12 34 {n % 100:02d} "
                f"{n // 100 % 100:02d};12 rue Victor Hugo;69002;Lyon;{advisers[n % 3]};CT{n:08d};{types[n % 4]};"
                f"Auto;{when};Actif;1 234,56;Bris de glace | Vol;;;{'oui' if n % 50 == 0 else 'non'};"
                f"{'oui' if n % 40 == 0 else 'non'}\r\n"
            )


def run(code: str, *args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs for each side")
    parser.add_argument("--encoding", default="utf-8-sig", choices=["utf-8-sig", "utf-8", "cp1252"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        export = folder / "export.csv"
        start = time.perf_counter()
        write_export(export, args.rows, args.encoding)
        print(f"export: {args.rows:,} rows, {args.encoding}, {export.stat().st_size / 1e6:.0f} MB, "
              f"written in {time.perf_counter() - start:.1f} s")  # fmt: skip
        subprocess.run([sys.executable, "-m", "m3mail", "-q", "init", str(folder / "w")], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        settings = str(folder / "w" / "m3mail.toml")
        baseline = min((run(BASELINE, str(export), args.encoding) for _ in range(args.repeat)),
                       key=lambda r: r["seconds"])  # fmt: skip
        ours = min((run(M3MAIL, str(export), settings, TODAY.isoformat()) for _ in range(args.repeat)),
                   key=lambda r: r["seconds"])  # fmt: skip
    ratio = ours["seconds"] / baseline["seconds"]
    print(f"baseline csv.reader pass : {baseline['seconds']:.2f} s, peak {baseline['peak_mb']:.0f} MB")
    print(f"m3mail import + selection: {ours['seconds']:.2f} s, peak {ours['peak_mb']:.0f} MB "
          f"({ours['validated']:,} rows validated, {ours['skipped']:,} skipped as not relevant, "
          f"{ours['rejected']:,} rejected, {ours['due']:,} clients due)")  # fmt: skip
    print(f"ratio m3mail / baseline  : {ratio:.2f}x (target <= 2.00x); peak memory target < 300 MB")
    sys.exit(0 if ratio <= 2 and ours["peak_mb"] < 300 else 1)


if __name__ == "__main__":
    main()
