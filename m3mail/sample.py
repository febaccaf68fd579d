"""A sample agency export around a given day, for ``m3mail init`` and for trying m3mail out.

The clients are invented and their emails use reserved example domains, so nothing real is ever contacted.
The export is generated from a fixed seed and dates relative to the day asked: the same mix every day, with
clients due that day, others later, others missed, the four contract types, several contracts for some
clients, VIPs, cancelled contracts, opted-out clients, exact duplicates and a handful of broken rows.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from datetime import date, timedelta

from m3mail.models import fold
from m3mail.selection import add_months

HEADER = ["client_id", "civilite", "nom", "prenom", "email", "telephone", "adresse", "code_postal", "ville",
          "conseiller", "contrat", "type", "produit", "date_effet", "statut", "prime_annuelle", "garanties",
          "sinistres", "questions", "vip", "opposition"]  # fmt: skip

ADVISERS = {
    "metropole": "claire.martin@cabinet-exemple.fr",
    "moselle": "thomas.bernard@cabinet-exemple.fr",
    "reunion": "nadia.hoarau@cabinet-exemple.fr",
}
CITIES = {
    "metropole": [("69002", "Lyon"), ("69100", "Villeurbanne"), ("38000", "Grenoble"), ("01000", "Bourg-en-Bresse"),
                  ("42000", "Saint-Étienne"), ("75011", "Paris")],
    "moselle": [("57000", "Metz"), ("57100", "Thionville"), ("57200", "Sarreguemines")],
    "reunion": [("97400", "Saint-Denis"), ("97410", "Saint-Pierre"), ("97460", "Saint-Paul")],
}  # fmt: skip
STREETS = ["rue de la République", "avenue Jean Jaurès", "rue Victor Hugo", "boulevard Gambetta", "rue des Écoles",
           "chemin des Vignes", "rue du Maréchal Foch", "allée des Tilleuls", "place de l'Église",
           "rue Pasteur"]  # fmt: skip
LAST_NAMES = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
              "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier",
              "Morel", "Girard", "André", "Lefebvre", "Mercier", "Dupont", "Lambert", "Bonnet", "François",
              "Martinez", "Hoarau", "Payet", "Grondin", "Müller", "Le Gall", "N'Diaye", "Da Silva", "Léger",
              "Schmitt", "Weber"]  # fmt: skip
FIRST_NAMES = {
    "M.": ["Jean", "Pierre", "Michel", "André", "Philippe", "Éric", "Jérôme", "François", "Loïc", "Hervé",
           "Mathéo", "Noé", "Jean-Luc", "Gaël", "Théo"],
    "Mme": ["Marie", "Nathalie", "Isabelle", "Sylvie", "Hélène", "Chloé", "Léa", "Zoé", "Anaïs", "Françoise",
            "Cécile", "Agnès", "Marie-Thérèse", "Maëlle", "Inès"],
}  # fmt: skip
CIVILITY_SPELLINGS = {"M.": ["M.", "M.", "M.", "Monsieur", "M"], "Mme": ["Mme", "Mme", "Mme", "Madame", "MME"]}
TYPE_SPELLINGS = {
    "IARD": ["IARD", "IARD", "iard"],
    "Santé": ["Santé", "Santé", "SANTE", "sante"],
    "Prévoyance": ["Prévoyance", "Prevoyance", "PRÉVOYANCE"],
    "Épargne": ["Épargne", "Epargne", "EPARGNE"],
}
PRODUCTS = {
    "IARD": [("Auto", ["Responsabilité civile", "Bris de glace", "Vol", "Incendie", "Assistance 0 km"], 300, 1200),
             ("Habitation", ["Incendie", "Dégât des eaux", "Vol", "Responsabilité civile vie privée"], 150, 600),
             ("Multirisque professionnelle", ["Responsabilité civile pro", "Perte d'exploitation"], 600, 3000),
             ("Deux-roues", ["Responsabilité civile", "Vol", "Équipements"], 200, 700)],
    "Santé": [("Complémentaire santé", ["Hospitalisation", "Optique", "Dentaire", "Médecine douce"], 400, 2400),
              ("Surcomplémentaire santé", ["Dépassements d'honoraires", "Optique"], 150, 600)],
    "Prévoyance": [("Prévoyance individuelle", ["Décès", "Incapacité", "Invalidité"], 200, 1500),
                   ("Garantie obsèques", ["Capital obsèques", "Assistance"], 100, 500),
                   ("Assurance emprunteur", ["Décès", "PTIA", "ITT"], 150, 1200)],
    "Épargne": [("Assurance vie", ["Fonds euros", "Unités de compte", "Gestion pilotée"], 600, 6000),
                ("PER individuel", ["Gestion pilotée", "Sortie en capital"], 1200, 4800)],
}  # fmt: skip
CLAIMS = {
    "IARD": ["Bris de glace", "Dégât des eaux", "Sinistre auto responsable", "Vol de vélo"],
    "Santé": ["Hospitalisation", "Soins dentaires", "Équipement optique"],
    "Prévoyance": ["Arrêt de travail", "Hospitalisation"],
    "Épargne": [],
}
QUESTIONS = ["Question sur l'échéancier", "Demande d'attestation", "Question sur la franchise",
             "Changement de RIB", "Question sur les bénéficiaires"]  # fmt: skip
STATUSES = ["Actif"] * 40 + ["En cours"] * 4 + ["Résilié", "résilié", "RESILIE", "Sans effet", "Annulé"]
# allocated ranges only: mobiles, then landlines of the region (0262 and 0692 for La Réunion)
PHONE_PREFIXES = {
    "metropole": ["0612", "0645", "0678", "0750", "0766", "0478", "0472", "0476"],
    "moselle": ["0608", "0663", "0782", "0387", "0382"],
    "reunion": ["0692", "0262"],
}
EMAIL_DOMAINS = ["example.com", "example.org", "example.net"]


@dataclass(frozen=True)
class SampleSize:
    clients: int = 300


def sample_export(today: date, size: SampleSize = SampleSize(), seed: int = 3) -> str:
    """The sample export as CSV text (``;`` separated, CRLF line ends, as Excel writes it)."""
    rng = random.Random(seed)
    rows = [row for n in range(1, size.clients + 1) for row in _client_rows(rng, n, today)]
    for i in rng.sample(range(len(rows)), 3):
        rows.insert(i + 1, list(rows[i]))  # exact duplicates, as exports repeat lines
    rows.extend(_broken_rows(today))
    rng.shuffle(rows)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue()


def _client_rows(rng: random.Random, n: int, today: date) -> list[list[str]]:
    region = rng.choices(["metropole", "moselle", "reunion"], weights=[6, 2, 2])[0]
    civility = rng.choice(["M.", "Mme"])
    last, first = rng.choice(LAST_NAMES), rng.choice(FIRST_NAMES[civility])
    postal_code, city = rng.choice(CITIES[region])
    email = _email(rng, first, last, n) if rng.random() < 0.85 else ""
    phone = _phone(rng, region) if rng.random() < 0.95 else ""
    vip = "oui" if rng.random() < 0.08 else rng.choice(["non", "", "non"])
    opposition = "oui" if rng.random() < 0.04 else rng.choice(["non", ""])
    street = f"{rng.randint(1, 120)} {rng.choice(STREETS)}"
    client = [f"C{10000 + n}", rng.choice(CIVILITY_SPELLINGS[civility]), last.upper() if rng.random() < 0.5
              else last, first, email, phone, street, postal_code, city, ADVISERS[region]]  # fmt: skip
    # due dates spread over today ± 45 days: about a sixth of the clients are in their window today
    effect = add_months(today, -3) + timedelta(days=rng.randint(-45, 45))
    count = rng.choices([1, 2, 3], weights=[70, 20, 10])[0]
    rows = []
    for k in range(count):
        if k and rng.random() < 0.5:
            effect = effect + timedelta(days=rng.randint(-20, 20))  # a later or earlier subscription
        rows.append(client + _contract(rng, f"CT{n:05d}{k + 1}", effect) + [vip, opposition])
    return rows


def _contract(rng: random.Random, contract_id: str, effect: date) -> list[str]:
    family = rng.choices(list(PRODUCTS), weights=[45, 20, 15, 20])[0]
    product, guarantees, low, high = rng.choice(PRODUCTS[family])
    premium = f"{rng.randint(low, high):,}".replace(",", " ") + f",{rng.randint(0, 99):02d}"
    date_text = effect.strftime("%d/%m/%Y") if rng.random() < 0.8 else effect.isoformat()
    claims = rng.sample(CLAIMS[family], 1) if CLAIMS[family] and rng.random() < 0.15 else []
    questions = rng.sample(QUESTIONS, 1) if rng.random() < 0.15 else []
    return [contract_id, rng.choice(TYPE_SPELLINGS[family]), product, date_text, rng.choice(STATUSES), premium,
            " | ".join(rng.sample(guarantees, rng.randint(1, len(guarantees)))), " | ".join(claims),
            " | ".join(questions)]  # fmt: skip


def _email(rng: random.Random, first: str, last: str, n: int) -> str:
    def ascii_part(text: str) -> str:
        return "".join(c for c in fold(text) if c.isalnum() or c == "-")

    return f"{ascii_part(first)}.{ascii_part(last)}{n % 100}@{rng.choice(EMAIL_DOMAINS)}"


def _phone(rng: random.Random, region: str) -> str:
    digits = rng.choice(PHONE_PREFIXES[region]) + f"{rng.randint(0, 999999):06d}"
    pairs = [digits[i : i + 2] for i in range(0, 10, 2)]
    style = rng.randint(0, 2)
    if style == 2:  # international form
        return ("+262 " if region == "reunion" else "+33 ") + digits[1] + " " + " ".join(pairs[1:])
    return (" " if style == 0 else ".").join(pairs)


def _broken_rows(today: date) -> list[list[str]]:
    """Rows that real exports carry: each is rejected, or kept with a warning, for the reason it shows."""
    base = add_months(today, -3)
    d = base.strftime("%d/%m/%Y")
    adviser = ADVISERS["metropole"]

    def row(cid: str, email: str, phone: str, adv: str, contract: str, kind: str, effect: str,
            premium: str = "420,00") -> list[str]:  # fmt: skip
        return [cid, "Mme", "EXEMPLE", "Erreur", email, phone, "1 rue de l'Export", "69003", "Lyon", adv, contract,
                kind, "Auto", effect, "Actif", premium, "Responsabilité civile", "", "", "non", "non"]  # fmt: skip

    return [
        row("", "sans.id@example.com", "06 11 22 33 44", adviser, "CTX001", "IARD", d),  # no client id
        row("C99002", "inconnu@example.com", "06 11 22 33 45", "ancien.conseiller@cabinet-exemple.fr", "CTX002",
            "IARD", d),  # adviser who left
        row("C99003", "date@example.com", "06 11 22 33 46", adviser, "CTX003", "Santé", "31/02/" + str(base.year)),
        row("C99004", "type@example.com", "06 11 22 33 47", adviser, "CTX004", "Auto", d),  # product as type
        row("C99005", "contrat@example.com", "06 11 22 33 48", adviser, "", "IARD", d),  # no contract id
        row("C99006", "mauvais.email@@example", "06 11 22 33 49", adviser, "CTX006", "IARD", d),  # kept, warned
        row("C99007", "prime@example.com", "06 11 22 33 50", adviser, "CTX007", "Épargne", d, "douze cents"),
        row("C99008", "tel@example.com", "12 34", adviser, "CTX008", "IARD", d),  # kept, warned
    ]
