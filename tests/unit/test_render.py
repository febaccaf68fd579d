"""What people read: the call brief, the client email and letter, the follow-up record and the daily digest.

The follow-ups are built by hand; every assertion is about text a person sees (or must never see).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from m3mail.errors import TemplateError
from m3mail.models import Client, Contract, ContractType, FollowUp, Outcome, State
from m3mail.render import (
    NOTES_MARKER,
    DigestItems,
    Rendered,
    Renderer,
    french_amount,
    french_date,
    html_to_text,
    phone_display,
)
from m3mail.settings import AdviserSettings, AgencySettings

IARD, SANTE, PREV, EPARGNE = ContractType.IARD, ContractType.SANTE, ContractType.PREVOYANCE, ContractType.EPARGNE
PARIS = ZoneInfo("Europe/Paris")
AGENCY = AgencySettings(name="Cabinet Exemple Assurances", address=["12 rue de la République", "69002 Lyon"],
                        phone="04 78 00 00 00", email="contact@cabinet-exemple.fr")  # fmt: skip
ADVISER = AdviserSettings(email="claire.martin@cabinet-exemple.fr", name="Claire Martin", phone="04 78 00 00 01")
HEALTH_CLAIM = "Hospitalisation cardiologie"
HEALTH_QUESTION = "Question sur le traitement du diabète"
COMMERCIAL = ["offre", "promotion", "promo", "profitez", "découvrez", "réduction", "remise", "gratuit", "avantage",
              "exclusi", "parrain", "devis", "bon plan", "nouveauté", "%"]  # fmt: skip
TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def contract(type: ContractType = IARD, id: str = "K1", product: str = "Auto", **kw) -> Contract:
    return Contract(id=id, client_id="C12345", adviser=ADVISER.email, type=type, effect_date=date(2026, 8, 25),
                    product=product, **kw)  # fmt: skip


CLIENT = Client(id="C12345", civility="Mme", last_name="DUPONT", first_name="Marie", email="marie.dupont@example.fr",
                phone="+33612345678", street="3 rue Pasteur", postal_code="69100", city="Villeurbanne")  # fmt: skip
AUTO = contract(IARD, "A100", "Auto", premium=Decimal("1234.56"), guarantees=("Vol", "Incendie"),
                claims=("Vol de vélo",), questions=("Question sur la franchise",))  # fmt: skip
HEALTH = contract(SANTE, "S200", "Complémentaire santé", premium=Decimal("80"), guarantees=("Hospitalisation",),
                  claims=(HEALTH_CLAIM, "Soins dentaires"), questions=(HEALTH_QUESTION,))  # fmt: skip


def followup(*contracts: Contract, client: Client = CLIENT, **kw) -> FollowUp:
    return FollowUp(id="F1", client=client, adviser=ADVISER.email, contracts=contracts or (AUTO,),
                    due_date=date(2026, 11, 25), window_start=date(2026, 11, 18), window_end=date(2026, 12, 2),
                    priority=2, created_at=datetime(2026, 11, 1, 9, tzinfo=PARIS), **kw)  # fmt: skip


@pytest.fixture
def renderer() -> Renderer:
    return Renderer(AGENCY)


def every_document(r: Renderer, f: FollowUp) -> dict[str, Rendered]:
    return {
        "brief": r.brief(f, ADVISER),
        "email": r.client_email(f, ADVISER),
        "letter": r.letter(f, ADVISER, date(2026, 12, 1)),
        "record": r.record(f, ADVISER, datetime(2026, 11, 25, 10, tzinfo=PARIS)),
        "digest": r.digest(ADVISER, date(2026, 11, 25), DigestItems(overdue=(f,), letters=(f,), bounces=(f,))),
    }


# --- the call event -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client", "contracts", "subject"),
    [
        (CLIENT, (AUTO, HEALTH), "M+3 · Mme DUPONT · IARD, Santé"),
        (replace(CLIENT, civility=""), (AUTO,), "M+3 · DUPONT · IARD"),
        (replace(CLIENT, civility="M.", last_name="Le Gall"), (HEALTH, AUTO), "M+3 · M. LE GALL · Santé, IARD"),
        (replace(CLIENT, civility="M.", last_name="Martin"), (AUTO, contract(IARD, "A2", "Habitation")),
         "M+3 · M. MARTIN · IARD"),
    ],
)  # fmt: skip
def test_call_subject(renderer, client, contracts, subject):
    f = followup(*contracts, client=client)
    assert renderer.call_subject(f) == subject
    assert renderer.brief(f, ADVISER).subject == subject


def test_brief_has_the_phone_as_a_tel_link_and_the_client_details(renderer):
    brief = renderer.brief(followup(AUTO), ADVISER)
    assert '<a href="tel:+33612345678">06 12 34 56 78</a>' in brief.html
    assert "06 12 34 56 78 (tel:+33612345678)" in brief.text  # the .ics description keeps the link
    assert "06 12 34 56 78" in brief.text
    assert "marie.dupont@example.fr" in brief.text
    assert "3 rue Pasteur, 69100 Villeurbanne" in brief.text
    assert "Mme Marie DUPONT" in brief.text


def test_brief_lists_each_contract_with_its_details(renderer):
    text = renderer.brief(followup(AUTO), ADVISER).text
    assert "IARD · Auto · contrat n° A100" in text
    assert "Date d'effet : 25 août 2026" in text
    assert "prime annuelle : 1\u00a0234,56\u00a0€" in text
    assert "Garanties : Vol, Incendie" in text
    assert "Sinistre : Vol de vélo" in text  # outside health, the claims are spelled out
    assert "Question : Question sur la franchise" in text


def test_brief_has_the_points_to_check_and_the_personalised_script(renderer):
    text = renderer.brief(followup(AUTO, HEALTH), ADVISER).text
    for point in ("Le contrat correspond-il toujours aux besoins ?", "Y a-t-il eu des changements de situation ?",
                  "Le client a-t-il des questions ou des besoins non satisfaits ?"):  # fmt: skip
        assert point in text
    assert "« Bonjour Madame Dupont, ici Claire Martin" in text
    assert "il y a 3 mois vous avez souscrit vos contrats IARD (Auto) et Santé (Complémentaire santé)" in text
    assert "Y a-t-il eu des changements dans votre situation ? »" in text
    assert "échéance M+3 le mercredi 25 novembre 2026" in text


def test_brief_ends_with_the_categories_and_the_notes_marker(renderer):
    brief = renderer.brief(followup(AUTO), ADVISER)
    lines = [line for line in brief.text.splitlines() if line.strip()]
    assert lines[-1] == NOTES_MARKER == "--- Notes du conseiller (écrire sous cette ligne) ---"
    assert lines[-2].startswith("Après l'appel, posez une catégorie sur cet événement")
    for category in ("M+3 Satisfait", "M+3 Besoin", "M+3 Question", "M+3 Changement", "M+3 Réclamation",
                     "M+3 Injoignable"):  # fmt: skip
        assert category in lines[-2]
    assert NOTES_MARKER in brief.html


def test_brief_marks_vip_clients_only(renderer):
    assert "VIP" in renderer.brief(followup(AUTO, client=replace(CLIENT, vip=True)), ADVISER).text
    assert "VIP" not in renderer.brief(followup(AUTO), ADVISER).text


def test_brief_without_phone_or_email_says_so(renderer):
    f = followup(AUTO, client=replace(CLIENT, phone="", email=""))
    text = renderer.brief(f, ADVISER).text
    assert "Téléphone : non renseigné" in text
    assert "Email : non renseigné" in text


# --- health data ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("health_type", [SANTE, PREV])
def test_health_claims_are_counted_never_spelled_out(renderer, health_type):
    health = replace(HEALTH, type=health_type)
    f = followup(AUTO, health, outcome=Outcome.SATISFAIT, emailed_at=datetime(2026, 11, 20, 10, tzinfo=PARIS))
    docs = every_document(renderer, f)
    for name, doc in docs.items():
        for part in (doc.subject, doc.text, doc.html):
            assert HEALTH_CLAIM not in part, name
            assert HEALTH_QUESTION not in part, name
    label = health_type.value.lower()
    for name in ("brief", "record"):
        assert f"2 sinistres {label} depuis la souscription (détail dans le dossier)" in docs[name].text
        assert "1 question depuis la souscription (détail dans le dossier)" in docs[name].text
    assert "Vol de vélo" in docs["brief"].text  # the IARD claim beside it is still shown


def test_client_email_never_alludes_to_a_health_claim(renderer):
    # An IARD variant chosen for a client whose only claims are health ones must not mention "votre sinistre".
    email = renderer.client_email(followup(replace(AUTO, claims=()), HEALTH), ADVISER)
    assert "sinistre" not in email.text
    with_iard_claim = renderer.client_email(followup(AUTO, HEALTH), ADVISER)
    assert "votre sinistre" in with_iard_claim.text


# --- the client email -----------------------------------------------------------------------------------------

VARIANT_SENTENCE = {
    IARD: "un changement de véhicule",
    SANTE: "Vos remboursements se passent-ils comme prévu ?",
    PREV: "la désignation de vos bénéficiaires",
    EPARGNE: "sur vos relevés",
}
PRODUCT = {IARD: "Habitation", SANTE: "Complémentaire santé", PREV: "Prévoyance individuelle", EPARGNE: "Assurance vie"}


@pytest.mark.parametrize("type", list(ContractType))
def test_each_contract_type_has_its_email(renderer, type):
    email = renderer.client_email(followup(contract(type, product=PRODUCT[type])), ADVISER)
    assert VARIANT_SENTENCE[type] in email.text
    for other, sentence in VARIANT_SENTENCE.items():
        if other is not type:
            assert sentence not in email.text
    assert email.subject.startswith(f"Votre contrat {PRODUCT[type]} : ")
    assert f"Il y a trois mois, vous avez souscrit votre contrat {PRODUCT[type]} auprès de notre agence." in email.text


def test_the_first_contract_type_chooses_the_email(renderer):
    assert VARIANT_SENTENCE[SANTE] in renderer.client_email(followup(HEALTH, AUTO), ADVISER).text
    assert VARIANT_SENTENCE[IARD] in renderer.client_email(followup(AUTO, HEALTH), ADVISER).text


@pytest.mark.parametrize("type", list(ContractType))
def test_emails_and_letters_are_never_commercial(renderer, type):
    f = followup(contract(type, product=PRODUCT[type], claims=("Vol",)))
    for doc in (renderer.client_email(f, ADVISER), renderer.letter(f, ADVISER, date(2026, 12, 1))):
        seen = f"{doc.subject}\n{doc.text}".lower()
        for word in COMMERCIAL:
            assert word not in seen, word


def test_email_is_a_personal_service_message(renderer):
    email = renderer.client_email(followup(AUTO, attempts=(datetime(2026, 11, 20, 10, tzinfo=PARIS),)), ADVISER)
    text = email.text
    assert text.startswith("Bonjour Madame Dupont,")
    assert "Je voulais prendre de vos nouvelles et vérifier qu'il répond toujours à vos attentes." in text
    assert "J'ai essayé de vous joindre par téléphone" in text
    assert "Vous pouvez simplement répondre à ce message" in text
    assert "répondez simplement STOP" in text
    assert "Claire Martin\nCabinet Exemple Assurances\nTél. 04 78 00 00 01" in text
    assert email.subject == "Votre contrat Auto : un point après trois mois"


def test_the_delay_said_follows_the_follow_up_dates(renderer):
    f = followup(AUTO)
    assert "Il y a trois mois, vous avez souscrit" in renderer.client_email(f, ADVISER).text
    six = replace(f, due_date=date(2027, 2, 25), window_start=date(2027, 2, 18), window_end=date(2027, 3, 4))
    email = renderer.client_email(six, ADVISER)
    assert email.subject == "Votre contrat Auto : un point après six mois"
    assert "Il y a six mois, vous avez souscrit" in email.text
    assert "il y a 6 mois vous avez souscrit" in renderer.brief(six, ADVISER).text
    assert "six mois après la souscription" in renderer.record(six, ADVISER, datetime(2027, 3, 1, tzinfo=PARIS)).text


def test_email_without_any_call_or_phone(renderer):
    adviser = ADVISER.model_copy(update={"phone": ""})
    email = Renderer(AGENCY.model_copy(update={"phone": ""})).client_email(followup(AUTO), adviser)
    assert "J'ai essayé de vous joindre" not in email.text
    assert "m'appeler" not in email.text
    assert "Tél." not in email.text


def test_email_greets_by_name_when_the_civility_is_unknown(renderer):
    text = renderer.client_email(followup(AUTO, client=replace(CLIENT, civility="")), ADVISER).text
    assert text.startswith("Bonjour Marie Dupont,")
    text = renderer.client_email(followup(AUTO, client=Client(id="C1")), ADVISER).text
    assert text.startswith("Bonjour,")


def test_email_html_has_its_css_inlined(renderer):
    html = renderer.client_email(followup(AUTO), ADVISER).html
    assert "<style" not in html
    assert 'style="' in html
    assert "<title>Votre contrat Auto : un point après trois mois</title>" in html


def test_names_are_escaped_in_html(renderer):
    f = followup(AUTO, client=replace(CLIENT, first_name="<script>alert(1)</script>", last_name="O'Neil <b>&</b>"))
    for name, doc in every_document(renderer, f).items():
        assert not re.search(r"<script|<b>|<B>", doc.html), name
        assert "&lt;" in doc.html and "&amp;" in doc.html, name
    brief = renderer.brief(f, ADVISER)
    assert "Mme &lt;script&gt;alert(1)&lt;/script&gt; O'NEIL &lt;B&gt;&amp;&lt;/B&gt;" in brief.html
    email = renderer.client_email(f, ADVISER)
    assert email.text.startswith("Bonjour Madame O'Neil <b>&</b>,")  # plain text is not HTML: no entities
    assert renderer.call_subject(f) == "M+3 · Mme O'NEIL <B>&</B> · IARD"


# --- the letter -----------------------------------------------------------------------------------------------


def test_letter_is_a_printable_a4_page_with_both_address_blocks(renderer):
    letter = renderer.letter(followup(AUTO), ADVISER, date(2026, 12, 1))
    assert letter.html.startswith("<!DOCTYPE html>")
    assert "@page { size: A4; margin: 2cm }" in letter.html
    sender = "Cabinet Exemple Assurances\n12 rue de la République\n69002 Lyon\nTél. 04 78 00 00 00\n" \
             "contact@cabinet-exemple.fr"  # fmt: skip
    assert sender in letter.text
    assert "Mme Marie DUPONT\n3 rue Pasteur\n69100 VILLEURBANNE" in letter.text
    assert letter.html.index('class="sender"') < letter.html.index('class="recipient"')
    assert "Lyon, le 1er décembre 2026" in letter.text
    assert "Objet : Votre contrat Auto : un point après trois mois" in letter.text
    assert letter.subject == "Votre contrat Auto : un point après trois mois"


def test_letter_carries_the_email_message_adapted_to_paper(renderer):
    text = renderer.letter(followup(AUTO), ADVISER, date(2026, 12, 1)).text
    assert "\nMadame,\n" in text
    assert VARIANT_SENTENCE[IARD] in text
    assert "répondre à ce message" not in text and "STOP" not in text
    assert "N'hésitez pas à me contacter au 04 78 00 00 01" in text
    assert "Je vous prie d'agréer, Madame," in text
    assert text.rstrip().endswith("Claire Martin\nCabinet Exemple Assurances\nTél. 04 78 00 00 01")


@pytest.mark.parametrize(
    ("address", "place"),
    [([], "Le 1er décembre 2026"), (["BP 12", "69433 Lyon Cedex 02"], "Lyon, le 1er décembre 2026"),
     (["1 place du Marché", "97400 Saint-Denis"], "Saint-Denis, le 1er décembre 2026")],
)  # fmt: skip
def test_letter_place_is_the_agency_city(address, place):
    r = Renderer(AGENCY.model_copy(update={"address": address}))
    assert place in r.letter(followup(AUTO), ADVISER, date(2026, 12, 1)).text


# --- the record -----------------------------------------------------------------------------------------------


def test_record_of_a_complaint(renderer):
    f = followup(AUTO, HEALTH, state=State.DONE, outcome=Outcome.RECLAMATION,
                 attempts=(datetime(2026, 11, 20, 9, 0, tzinfo=UTC), datetime(2026, 11, 23, 13, 30, tzinfo=UTC)),
                 outcome_at=datetime(2026, 11, 23, 13, 50, tzinfo=UTC), notes="Mécontente du délai.\nRappeler <lundi>.",
                 complaint_ack_due=date(2026, 12, 7), complaint_answer_due=date(2027, 1, 23))  # fmt: skip
    record = renderer.record(f, ADVISER, datetime(2026, 11, 25, 10, 0, tzinfo=PARIS))
    text = record.text
    assert text.startswith("Compte rendu de suivi M+3")
    assert "Établi le mercredi 25 novembre 2026 à 10h00" in text
    assert "Conseiller : Claire Martin" in text
    assert "Client : Mme Marie DUPONT · n° C12345" in text
    assert "IARD · Auto · contrat n° A100 · date d'effet : 25 août 2026" in text
    assert "fenêtre du 18 novembre 2026 au 2 décembre 2026" in text
    assert "Appel 1 : vendredi 20 novembre 2026 à 10h00" in text  # shown in the adviser's time zone
    assert "Appel 2 : lundi 23 novembre 2026 à 14h30" in text
    assert "Réclamation (le lundi 23 novembre 2026 à 14h50)" in text
    assert "Accusé de réception dû le 7 décembre 2026" in text
    assert "Réponse due le 23 janvier 2027" in text
    assert "Mécontente du délai.\nRappeler <lundi>." in text
    assert "Rappeler &lt;lundi&gt;." in record.html
    assert "devoir de conseil continu" in text
    assert record.subject == "Compte rendu M+3 · Mme Marie DUPONT (C12345)"


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"state": State.DONE, "outcome": Outcome.SATISFAIT}, "Client satisfait, pas d'action"),
        ({"state": State.MISSED}, "Fenêtre M+3 close sans contact"),
        ({"state": State.CANCELLED}, "Appel supprimé du calendrier par le conseiller"),
        ({"state": State.OPTED_OUT}, "Le client a demandé à ne plus être contacté (STOP)"),
        ({"state": State.DONE, "emailed_at": datetime(2026, 11, 20, 10, tzinfo=PARIS)},
         "Email envoyé, sans réponse du client"),
    ],
)  # fmt: skip
def test_record_states_how_the_follow_up_ended(renderer, changes, status):
    text = renderer.record(followup(AUTO, **changes), ADVISER, datetime(2026, 11, 25, 10, tzinfo=PARIS)).text
    assert f"Résultat\n\n{status}" in text
    assert "Accusé de réception" not in text


def test_record_lists_the_email_and_the_replies(renderer):
    f = followup(AUTO, state=State.DONE, outcome=Outcome.SATISFAIT, emailed_at=datetime(2026, 11, 20, 10, tzinfo=PARIS),
                 replied_at=datetime(2026, 11, 21, 18, 5, tzinfo=PARIS), reply_ids=("<a@x>", "<b@x>"))  # fmt: skip
    text = renderer.record(f, ADVISER, datetime(2026, 11, 25, 10, tzinfo=PARIS)).text
    assert "Email envoyé au client le vendredi 20 novembre 2026 à 10h00" in text
    assert "Réponse du client le samedi 21 novembre 2026 à 18h05 (2 messages classés dans ce dossier)" in text
    assert "Aucune note." in text


# --- the digest -----------------------------------------------------------------------------------------------


def test_digest_lists_each_section_with_its_items(renderer):
    late = followup(AUTO, call_at=datetime(2026, 11, 24, 14, 30, tzinfo=PARIS))
    complaint = followup(AUTO, outcome=Outcome.RECLAMATION, complaint_ack_due=date(2026, 12, 7),
                         complaint_answer_due=date(2027, 1, 23))  # fmt: skip
    items = DigestItems(overdue=(late,), letters=(followup(HEALTH),), complaints=(complaint,),
                        bounces=(followup(AUTO, bounced_at=datetime(2026, 11, 24, 9, tzinfo=PARIS)),),
                        capacity=((date(2026, 12, 1), 3),))  # fmt: skip
    digest = renderer.digest(ADVISER, date(2026, 11, 25), items)
    text = digest.text
    assert digest.subject == "M+3 · Votre point du mercredi 25 novembre 2026"
    assert "Mme Marie DUPONT (C12345) : appel prévu mardi 24 novembre 2026 à 14h30" in text
    assert "posez la catégorie du résultat : M+3 Satisfait" in text
    assert "Courriers à imprimer et envoyer (1)" in text and "3 rue Pasteur, 69100 VILLEURBANNE" in text
    assert "accusé de réception dû le 7 décembre 2026 ; réponse due le 23 janvier 2027" in text
    assert "marie.dupont@example.fr, retour le mardi 24 novembre 2026 à 9h00" in text
    assert "mardi 1er décembre 2026 : 3 appels M+3 sans créneau libre" in text
    assert HEALTH_CLAIM not in digest.html


def test_digest_lists_the_clients_away_with_their_return_date(renderer):
    items = DigestItems(away=(followup(AUTO, client_back_on=date(2026, 12, 14)), followup(AUTO)))
    text = renderer.digest(ADVISER, date(2026, 12, 7), items).text
    assert "Réponses automatiques de clients (2)" in text
    assert "Mme Marie DUPONT (C12345) : absent, de retour le 14 décembre 2026" in text
    assert "sans date de retour" in text and items


def test_digest_leaves_out_empty_sections(renderer):
    text = renderer.digest(ADVISER, date(2026, 11, 25), DigestItems(capacity=((date(2026, 12, 1), 1),))).text
    assert "1 appel M+3 sans créneau libre" in text
    for title in ("Appels passés", "Courriers", "Réclamations", "Emails non distribués"):
        assert title not in text
    assert "Rien ne vous attend" in renderer.digest(ADVISER, date(2026, 11, 25), DigestItems()).text
    assert not DigestItems() and DigestItems(capacity=((date(2026, 12, 1), 1),))


# --- every document -------------------------------------------------------------------------------------------


def test_every_document_has_a_plain_text_alternative_without_html(renderer):
    f = followup(AUTO, HEALTH, outcome=Outcome.QUESTION, notes="Voir la franchise.",
                 emailed_at=datetime(2026, 11, 20, 10, tzinfo=PARIS))  # fmt: skip
    for name, doc in every_document(renderer, f).items():
        assert doc.subject and doc.text.strip() and "<html" in doc.html, name
        assert not TAG.search(doc.text), (name, TAG.search(doc.text))
        assert "**" not in doc.text and "\\" not in doc.text and "](" not in doc.text, name
        assert "&nbsp;" not in doc.text and "&#" not in doc.text, name


# --- working folder templates and their errors ---------------------------------------------------------------


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_working_folder_template_replaces_the_shipped_one(tmp_path):
    write(tmp_path, "email/iard.html.j2", '{% extends "email/base.html.j2" %}\n'
          "{% block subject %}Des nouvelles de votre {{ contracts[0].label }}{% endblock %}\n"
          "{% block details %}<p>Texte propre à notre cabinet.</p>{% endblock %}\n")  # fmt: skip
    r = Renderer(AGENCY, tmp_path)
    email = r.client_email(followup(AUTO), ADVISER)
    assert email.subject == "Des nouvelles de votre Auto"
    assert "Texte propre à notre cabinet." in email.text
    assert "répondez simplement STOP" in email.text  # the shipped base still frames it
    assert VARIANT_SENTENCE[SANTE] in r.client_email(followup(HEALTH), ADVISER).text  # others stay shipped
    assert "Texte propre à notre cabinet." in r.letter(followup(AUTO), ADVISER, date(2026, 12, 1)).text


def test_a_missing_working_folder_is_ignored(tmp_path):
    r = Renderer(AGENCY, tmp_path / "absent")
    assert r.client_email(followup(AUTO), ADVISER).subject == "Votre contrat Auto : un point après trois mois"


def test_a_hand_written_text_version_is_used(tmp_path):
    write(tmp_path, "email/iard.txt.j2", "Bonjour {{ client|addressee }} & bienvenue,\n{{ adviser.name }}\n")
    email = Renderer(AGENCY, tmp_path).client_email(followup(AUTO), ADVISER)
    assert email.text == "Bonjour Madame Dupont & bienvenue,\nClaire Martin\n"  # not HTML-escaped
    assert "un changement de véhicule" in email.html


@pytest.mark.parametrize(
    ("name", "text", "line", "reason"),
    [
        ("email/sante.html.j2", '{% extends "email/base.html.j2" %}\n{% block details %}\n<p>\n{{ client.last_name }\n'
         "</p>\n{% endblock %}\n", 4, "unexpected '}'"),
        ("record.html.j2", "<html><body>\n<p>ok</p>\n<p>{{ not_a_variable }}</p>\n</body></html>\n", 3,
         "'not_a_variable' is undefined"),
        ("email/sante.html.j2", '{% extends "email/base.html.j2" %}\n{% block details %}\n\n'
         "<p>{{ client.age }}</p>\n{% endblock %}\n", 4, "has no attribute 'age'"),
        ("email/base.html.j2", "<html>\n{% block subject %}S{% endblock %}\n{% if %}\n</html>\n", 3, ""),
    ],
)  # fmt: skip
def test_a_broken_template_names_its_file_and_line(tmp_path, name, text, line, reason):
    path = write(tmp_path, name, text)
    r = Renderer(AGENCY, tmp_path)
    f = followup(HEALTH)
    with pytest.raises(TemplateError) as caught:
        r.record(f, ADVISER, datetime(2026, 11, 25, tzinfo=PARIS)) if "record" in name else r.client_email(f, ADVISER)
    message = str(caught.value)
    assert message.startswith(f"{path}, line {line}: "), message
    assert reason in message


def test_a_broken_shipped_base_is_reported_in_the_variant_that_uses_it(tmp_path):
    path = write(tmp_path, "email/base.html.j2", "<html>\n<body>\n{{ client.nope }}\n{% block message %}{% endblock %}")
    with pytest.raises(TemplateError, match=rf"^{re.escape(str(path))}, line 3: .*'nope'"):
        Renderer(AGENCY, tmp_path).client_email(followup(contract(EPARGNE)), ADVISER)


# --- French formatting ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "text"),
    [(date(2026, 11, 25), "25 novembre 2026"), (date(2026, 12, 1), "1er décembre 2026"),
     (date(2027, 2, 8), "8 février 2027"), (date(2026, 8, 15), "15 août 2026")],
)  # fmt: skip
def test_french_dates(day, text):
    assert french_date(day) == text


@pytest.mark.parametrize(
    ("amount", "text"),
    [(Decimal("1234.56"), "1 234,56 €"), (Decimal("80"), "80,00 €"), (Decimal("1234567.8"), "1 234 567,80 €"),
     (Decimal("0.5"), "0,50 €")],
)  # fmt: skip
def test_french_amounts(amount, text):
    assert french_amount(amount) == text.replace(" ", "\u00a0")  # no-break spaces: never split across lines


@pytest.mark.parametrize(
    ("number", "shown"),
    [("+33612345678", "06 12 34 56 78"), ("+33478000000", "04 78 00 00 00"), ("+262692123456", "0692 12 34 56"),
     ("04 78 00 00 01", "04 78 00 00 01"), ("+441632960123", "+44 1632 960123"), ("n/a", "n/a")],
)  # fmt: skip
def test_phone_display(number, shown):
    assert phone_display(number) == shown


def test_html_to_text_keeps_links_readable():
    html = (
        '<p>Appelez le <a href="tel:+33612345678">06 12 34 56 78</a>, écrivez à '
        '<a href="mailto:a@example.fr">a@example.fr</a> ou voyez <a href="https://example.fr/aide">l\'aide</a> '
        '(<a href="https://example.fr">https://example.fr</a>).</p><ul><li>- un tiret</li></ul><p>1. un</p>'
    )
    assert html_to_text(html) == (
        "Appelez le 06 12 34 56 78 (tel:+33612345678), écrivez à a@example.fr "
        "ou voyez l'aide (https://example.fr/aide) "
        "(https://example.fr).\n\n  - - un tiret\n\n1. un\n"
    )
