"""Benchmark: a daily run for 500 advisers x 3 new follow-ups on the Microsoft 365 backend, 100 ms per request.

Run on demand (not collected by pytest):
    .venv/bin/python tests/perf/bench_graph_run.py [--advisers 500] [--follow-ups 3] [--latency 0.1]
        [--concurrent 16 64]

The Graph emulator runs in its own process (so that its work does not share this one's interpreter), with every
request held ``--latency`` seconds and at most 4 requests in flight per mailbox. A first run (the day before,
no client due) creates the advisers' categories, as the first day of a real installation would; then the daily
run is timed: it imports the export, starts 3 follow-ups per adviser and books their calls. It is timed:
  - baseline: the same run with no latency (m3mail's and the emulator's own work), in this same process;
  - with latency, for each ``--concurrent`` (advisers served at once).
Printed: wall times, their ratio to the bound that latency allows with that many advisers at once and the
requests each adviser's pass makes one after the other (a pass waits for each answer before the next request),
and to the bound of 4 concurrent requests per mailbox with every adviser served at once; the Graph requests
per follow-up.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from m3mail.job import run_once  # noqa: E402
from m3mail.settings import load_settings  # noqa: E402

TODAY = date(2026, 11, 25)  # a Wednesday
PARIS = ZoneInfo("Europe/Paris")


def write_folder(folder: Path, advisers: int, concurrent: int, base: str, ca: str, per_adviser: int = 3) -> Path:
    """Settings for ``advisers`` advisers (Microsoft 365, the emulator) and an export of ``per_adviser`` clients
    each, due today."""
    shipped = (ROOT / "settings" / "m3mail.toml").read_text(encoding="utf-8")
    text = shipped[: shipped.index("\n[[advisers]]")]
    for old, new in (('backend = "local"', 'backend = "microsoft365"'),
                     ('tenant_id = ""', 'tenant_id = "m3mail-test-tenant"'),
                     ('client_id = ""', 'client_id = "m3mail-bench"'),
                     ('graph_url = "https://graph.microsoft.com"', f'graph_url = "{base}"'),
                     ('authority_url = "https://login.microsoftonline.com"', f'authority_url = "{base}"'),
                     ('ca_bundle = ""', f'ca_bundle = "{ca}"'),
                     ('path = "portefeuille.csv"', 'path = "export.csv"')):  # fmt: skip
        assert old in text, old  # the shipped settings changed: the benchmark would measure something else
        text = text.replace(old, new)
    text, n = re.subn(r"(?m)^concurrent_advisers = \d+$", f"concurrent_advisers = {concurrent}", text)
    assert n == 1, "concurrent_advisers not found in the shipped settings"
    for i in range(advisers):
        text += f'\n[[advisers]]\nemail = "{adviser(i)}"\nname = "Conseiller {i}"\n'
    (folder / "m3mail.toml").write_text(text, encoding="utf-8")
    effect = date(TODAY.year, TODAY.month - 3, TODAY.day)  # due today
    lines = ["client_id;civilite;nom;prenom;email;telephone;adresse;code_postal;ville;conseiller;contrat;type;"
             "produit;date_effet;statut;prime_annuelle;garanties;sinistres;questions;vip;opposition"]  # fmt: skip
    for i in range(advisers):
        for k in range(per_adviser):
            n = i * per_adviser + k
            lines.append(f"C{n:06d};Mme;NOM{n};Prénom;client{n}@example.org;06 12 34 {n % 100:02d} {k % 100:02d};"
                         f"1 rue de la Paix;69001;Lyon;{adviser(i)};CT{n:07d};IARD;Auto;{effect:%d/%m/%Y};Actif;"
                         "500,00;Tous risques;;;non;non")  # fmt: skip
    (folder / "export.csv").write_text("\r\n".join(lines) + "\r\n", encoding="utf-8-sig")
    return folder / "m3mail.toml"


def adviser(i: int) -> str:
    return f"conseiller{i:03d}@cabinet-exemple.fr"


def emulator(advisers: int, latency: float, folder: Path) -> tuple[subprocess.Popen, str, str]:
    args = [sys.executable, str(ROOT / "tests" / "graph" / "emulator.py"), "--port", "0", "--latency", str(latency)]
    for i in range(advisers):
        args += ["--mailbox", adviser(i)]
    env = {k: v for k, v in os.environ.items() if k != "M3MAIL_EMULATOR_LOG"}
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    assert process.stdout is not None
    fields = {}
    while len(fields) < 3:
        name, _, value = process.stdout.readline().partition(": ")
        fields[name] = value.strip()
    return process, fields["base URL"], fields["CA file"]


def measure(advisers: int, latency: float, concurrent: int, per_adviser: int = 3) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="m3mail-bench-") as tmp:
        folder = Path(tmp)
        process, base, ca = emulator(advisers, latency, folder / "tls")
        try:
            settings = load_settings(write_folder(folder, advisers, concurrent, base, ca, per_adviser))
            eve = datetime.combine(TODAY - timedelta(days=1), clock(17), PARIS)
            empty = folder / "empty.csv"
            empty.write_text((folder / "export.csv").read_text(encoding="utf-8-sig").splitlines()[0] + "\r\n",
                             encoding="utf-8-sig")  # fmt: skip
            run_once(settings, eve, portfolio=empty, echo=lambda _s: None)  # the categories, made once
            start = time.perf_counter()
            summary = run_once(settings, datetime.combine(TODAY, clock(17), PARIS), echo=lambda _s: None)
            wall = time.perf_counter() - start
        finally:
            process.terminate()
            process.wait()
    booked = sum(r.booked for r in summary.advisers.values())
    errors = sum(len(r.errors) for r in summary.advisers.values())
    return {"wall": wall, "booked": booked, "errors": errors, "started": summary.started, **summary.usage}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--advisers", type=int, default=500)
    parser.add_argument("--follow-ups", type=int, default=3, help="new follow-ups per adviser, due today")
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrent", type=int, nargs="+", default=[16, 64])
    args = parser.parse_args()
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        os.environ.pop(name, None)
    os.environ["M3MAIL_CLIENT_SECRET"] = "bench"
    n = args.advisers
    base = measure(n, 0.0, max(args.concurrent), args.follow_ups)
    print(f"{n} advisers x {args.follow_ups} new follow-ups; baseline with no latency ({max(args.concurrent)} "
          "advisers at once): "
          f"{base['wall']:.2f} s, {base['requests']} Graph requests, {base['operations']} operations, "
          f"{base['booked']} calls booked, {base['errors']} errors")  # fmt: skip
    for concurrent in args.concurrent:
        m = measure(n, args.latency, concurrent, args.follow_ups)
        sequential = m["requests"] / n  # a pass makes its requests one after the other
        bound = math.ceil(n / concurrent) * sequential * args.latency
        floor = math.ceil(m["operations"] / n / 4) * args.latency  # 4 at once per mailbox, all advisers at once
        print(f"latency {args.latency * 1000:.0f} ms, {concurrent} advisers at once: {m['wall']:.2f} s "
              f"({m['wall'] / base['wall']:.1f}x the baseline); bound from latency and passes "
              f"({sequential:.1f} requests each, one after the other): {bound:.2f} s, ratio {m['wall'] / bound:.2f}; "
              f"bound of 4 requests at once per mailbox with every adviser at once: {floor:.2f} s; "
              f"{m['requests'] / max(1, m['started']):.2f} Graph requests ({m['operations'] / max(1, m['started']):.2f}"
              f" operations) per follow-up; {m['booked']} booked, {m['errors']} errors")  # fmt: skip


if __name__ == "__main__":
    main()
