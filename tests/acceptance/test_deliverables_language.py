"""One language per deliverable. The message catalogue's fixed texts (every `english:` and `french:`
literal of MessageCatalogue.swift, cut at its interpolations) are looked for in the workbooks, the
report and the digest: a French pipeline's deliverables hold no English catalogue text and no rule
code, an en_US copy of the nightly pipeline holds no French catalogue text. Source locations show file
names, never the server path the fixtures folder came from."""
import re

import pytest

from deliverables import (MONTHLY_AS_OF, NIGHTLY_AS_OF, ROOT, catalogue_fragments, digest, html_text, rejects_csv,
                          run_pipeline, workbook_strings)

FIXTURES = ROOT / "fixtures"


def deliverable_texts(out, stem, as_of, with_report=True):
    texts = {"workbook": "\n".join(workbook_strings(out / f"{stem}-{as_of}.xlsx"))}
    if with_report:
        texts["report"] = html_text((out / f"rapport-{as_of}.html").read_text())
        message, raw, text, html, _ = digest(out)
        texts["digest text"] = text
        texts["digest html"] = html_text(html)
        texts["digest subject"] = str(message["subject"])
    return texts


@pytest.fixture(scope="module")
def french(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fr")
    # The fixtures folder from the environment, as the benchmark and a server set it: an absolute path.
    env = {"STOCKFLOW_FIXTURES": str(FIXTURES)}
    nightly = run_pipeline(ROOT / "pipelines/nightly-inventory.yml", folder / "nightly", NIGHTLY_AS_OF, env)
    monthly = run_pipeline(ROOT / "pipelines/monthly-finance.yml", folder / "monthly", MONTHLY_AS_OF, env)
    texts = {f"nightly {k}": v for k, v in deliverable_texts(nightly, "inventaire", NIGHTLY_AS_OF).items()}
    texts.update({f"monthly {k}": v for k, v in deliverable_texts(monthly, "finance", MONTHLY_AS_OF, with_report=False).items()})
    return nightly, texts


@pytest.fixture(scope="module")
def english(tmp_path_factory):
    folder = tmp_path_factory.mktemp("en")
    pipeline = (ROOT / "pipelines/nightly-inventory.yml").read_text().replace("locale: fr_FR", "locale: en_US")
    assert "locale: en_US" in pipeline
    copy = folder / "nightly-en.yml"
    copy.write_text(pipeline)
    out = run_pipeline(copy, folder / "out", NIGHTLY_AS_OF, {"STOCKFLOW_FIXTURES": str(FIXTURES)})
    return out, deliverable_texts(out, "inventaire", NIGHTLY_AS_OF)


def test_the_catalogue_has_both_languages():
    english, french = catalogue_fragments("english"), catalogue_fragments("french")
    assert len(english) > 40 and len(french) > 40
    assert "the recomputed total is used" in english and "le montant recalculé est retenu" in french


def test_no_english_catalogue_text_in_a_french_deliverable(french):
    _, texts = french
    fragments = catalogue_fragments("english") - catalogue_fragments("french")
    for name, text in texts.items():
        found = sorted(fragment for fragment in fragments if fragment in text)
        assert found == [], f"{name}: {found}"


def test_french_deliverables_show_rules_in_words_and_numbers_the_french_way(french):
    out, texts = french
    codes = {row["rule"] for row in rejects_csv(out)} | {"order-total-mismatch", "stock-legacy-quantity"}
    for name, text in texts.items():
        found = sorted(code for code in codes if "-" in code and code in text)
        assert found == [], f"{name}: {found}"
    # The finding the issue quotes, in French with French numbers.
    assert "montant enregistré 89,66\u00a0€ différent de 1 × 43,10\u00a0€ = 43,10\u00a0€ (écart 46,56\u00a0€)" in texts["nightly report"]
    for raw in ("written_off", "restocked", "refund_only", "defaut"):
        assert raw not in texts["monthly workbook"], raw
    assert "Mis au rebut" in texts["monthly workbook"] and "Remboursement seul" in texts["monthly workbook"]


def test_no_server_path_in_a_deliverable(french):
    out, texts = french
    assert str(FIXTURES) in (out / "rejects.csv").read_text(), "the machine file keeps the path it read"
    for name, text in texts.items():
        assert str(FIXTURES) not in text, name
        assert "/fixtures/" not in text, name
    assert "commandes.csv:503" in texts["nightly workbook"] and "commandes.csv:503" in texts["nightly report"]


def test_no_french_catalogue_text_in_an_english_deliverable(english):
    _, texts = english
    fragments = catalogue_fragments("french") - catalogue_fragments("english")
    for name, text in texts.items():
        found = sorted(fragment for fragment in fragments if fragment in text)
        assert found == [], f"{name}: {found}"
    assert "stored total 89.66 differs from 1 × 43.10 = 43.10 by 46.56" in texts["report"]
    assert "Rejects" in texts["workbook"] and "Total of rejected amounts" in texts["workbook"]


def test_the_digest_is_titled_by_the_pipeline_description_and_signed_with_dash_dash_space(french):
    out, texts = french
    message, raw, text, html, _ = digest(out)
    assert text.startswith("Classeur d'inventaire de la nuit (commandes, CA par mois, stock par entrepôt, stock bas) — Situation au 25/11/2026")
    assert "\n-- \r\n" in text or "\n-- \n" in text
    assert "nightly-inventory" not in texts["nightly digest html"].split("\n")[0]
    # The text headers (subject, addresses) keep to 78 characters a line (RFC 5322 §2.1.1); a Message-ID
    # or a MIME boundary is one token that cannot be folded.
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    text_lines = [line for line in head.split("\r\n") if not line.startswith(("Message-ID:", "Content-Type:"))]
    assert all(len(line) <= 78 for line in text_lines), [line for line in text_lines if len(line) > 78]


def test_a_long_accented_subject_is_folded(tmp_path):
    subject = "Inventaire du {{as_of}} : " + "Électricité, Quincaillerie, Jardinage et Plomberie — " * 5
    pipeline = (ROOT / "pipelines/nightly-inventory.yml").read_text()
    pipeline = re.sub(r'subject: ".*"', f'subject: "{subject}"', pipeline)
    copy = tmp_path / "nightly-subject.yml"
    copy.write_text(pipeline)
    out = run_pipeline(copy, tmp_path / "out", NIGHTLY_AS_OF, {"STOCKFLOW_FIXTURES": str(FIXTURES)})
    message, raw, _, _, _ = digest(out)
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    subject_lines = head.split("Subject: ", 1)[1].split("\r\n")
    folded = [subject_lines[0]] + [line for line in subject_lines[1:] if line.startswith(" ")][:100]
    assert len(folded) > 4 and all(len("Subject: " + line) <= 78 for line in folded)
    assert str(message["subject"]).startswith("Inventaire du 25/11/2026 : Électricité, Quincaillerie")


# Database extracts: a table with bad rows made in the test, read by SQLite and by PostgreSQL, its rejects
# shown in a workbook, a report and a digest in each language.
BAD_DATABASE_PIPELINE = """\
version: 1
name: bad-database
description: {description}
settings: {{currency: EUR, locale: {locale}}}
stages:
  products:
{extract}
  workbook: {{load: xlsx, path: produits.xlsx, sheets: [{{name: Produits, input: products}}]}}
  report:
    load: html_report
    path: produits.html
    kpis: [{{label: Produits, input: products, agg: count}}]
    charts: [{{type: bar, title: Prix, input: products, label: nom_prod, value: prix_unit}}]
  digest: {{load: email, from: "Stockflow <stockflow@example.com>", to: [finance@example.com], attach: [workbook]}}
"""


def bad_database_texts(folder, locale, extract, env=None):
    pipeline = folder / f"bad-{locale}.yml"
    pipeline.write_text(BAD_DATABASE_PIPELINE.format(locale=locale, extract=extract, description="Produits de la base"))
    out = run_pipeline(pipeline, folder / f"out-{locale}", NIGHTLY_AS_OF, env)
    texts = {"workbook": "\n".join(workbook_strings(out / "produits.xlsx")),
             "report": html_text((out / "produits.html").read_text())}
    _, _, text, html, _ = digest(out)
    texts["digest text"], texts["digest html"] = text, html_text(html)
    return out, texts


def expect_one_language(texts, locale, messages):
    """Each message in every deliverable, and no catalogue text of the other language."""
    mine, other = ("french", "english") if locale == "fr_FR" else ("english", "french")
    fragments = catalogue_fragments(other) - catalogue_fragments(mine)
    for name, text in texts.items():
        for message in messages:
            assert message in text, f"{locale} {name}: {message!r} missing"
        found = sorted(fragment for fragment in fragments if fragment in text)
        assert found == [], f"{locale} {name}: {found}"


def test_sqlite_extract_rejects_speak_the_deliverables_language(tmp_path):
    import sqlite3
    database = tmp_path / "bad.sqlite3"
    with sqlite3.connect(database) as con:
        # No declared types, so that SQLite keeps every value as it was given (a text, a REAL, a NULL).
        con.execute("CREATE TABLE produit (code_prod, nom_prod, prix_unit, date_maj)")
        con.executemany("INSERT INTO produit VALUES (?, ?, ?, ?)", [
            (1, "Stylo", "2.50", "2025-01-02"), ("douze", "Cahier", "3.35", "2025-01-02"), (2.5, "Gomme", "1.00", "2025-01-02"),
            (3, None, "1.00", "2025-01-02"), (4, "Règle", "abc", "2025-01-02"), (5, "Classeur", "4.20", "2025-13-45")])
    extract = (f"    extract: sqlite\n    database: {database}\n    table: produit\n"
               "    columns: {code_prod: int, nom_prod: {type: text, nullable: false}, prix_unit: {type: decimal, scale: 2}, date_maj: date}")
    out, french = bad_database_texts(tmp_path, "fr_FR", extract)
    rejects = rejects_csv(out)
    assert [row["rule"] for row in rejects] == ["sqlite-type"] * 5
    # The machine file keeps English, with the value as SQLite stores it.
    assert "column 'code_prod': '2.5' is not a whole number" in [row["message"] for row in rejects]
    expect_one_language(french, "fr_FR", [
        "colonne « code_prod » : « douze » n’est pas un nombre entier", "colonne « code_prod » : « 2,5 » n’est pas un nombre entier",
        "colonne « nom_prod » à NULL ; une valeur est requise", "colonne « prix_unit » : « abc » n’est pas un nombre décimal",
        "colonne « date_maj » : « 2025-13-45 » n’est pas une date (AAAA-MM-JJ)"])
    _, english = bad_database_texts(tmp_path, "en_US", extract)
    expect_one_language(english, "en_US", [
        "column 'code_prod': 'douze' is not a whole number", "column 'code_prod': '2.5' is not a whole number",
        "column 'nom_prod' is NULL; a value is required", "column 'date_maj': '2025-13-45' is not a date (YYYY-MM-DD)"])


def test_postgres_extract_rejects_speak_the_deliverables_language(tmp_path):
    import os
    import uuid
    from urllib.parse import urlparse, urlunparse

    import psycopg
    server = os.environ.get("STOCKFLOW_TEST_PG_URL")
    if not server:
        pytest.fail("STOCKFLOW_TEST_PG_URL is not set: run `make test`, or `scripts/with-postgres.sh pytest tests/acceptance`")
    name = "lang_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunparse(urlparse(server)._replace(path="/" + name))
    try:
        with psycopg.connect(url) as con:
            # NaN and infinity are values PostgreSQL stores that no exact decimal or calendar day holds.
            con.execute("CREATE TABLE produit (code_prod int, nom_prod text, prix_unit numeric(10, 2), date_maj date)")
            con.execute("INSERT INTO produit VALUES (1, 'Stylo', 2.50, '2025-01-02'), (2, 'Cahier', 'NaN', '2025-01-02'), "
                        "(3, 'Gomme', 1.00, 'infinity')")
        extract = "    extract: postgres\n    connection: ${BAD_DB_URL}\n    table: produit"
        env = {"BAD_DB_URL": url}
        out, french = bad_database_texts(tmp_path, "fr_FR", extract, env)
        assert [row["rule"] for row in rejects_csv(out)] == ["postgres-type"] * 2
        expect_one_language(french, "fr_FR", ["colonne « prix_unit » : « NaN » ne tient pas dans un nombre décimal exact",
                                              "colonne « date_maj » : « infinity » n’est pas une date (AAAA-MM-JJ)"])
        _, english = bad_database_texts(tmp_path, "en_US", extract, env)
        expect_one_language(english, "en_US", ["column 'prix_unit': 'NaN' does not fit an exact decimal",
                                               "column 'date_maj': 'infinity' is not a date (YYYY-MM-DD)"])
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
