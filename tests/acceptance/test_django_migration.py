"""The migration seen by its real client: the fixture Django project's SQLite database (with rows
changed through the ORM) is migrated by `stockflow migrate` into a fresh PostgreSQL database, and the
same Django project pointed at PostgreSQL must give the same `dumpdata`, the same aggregates, fresh
ids that never reuse a deleted one, and enforced constraints. Needs STOCKFLOW_TEST_PG_URL (make test
starts a private server through scripts/with-postgres.sh)."""
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
STOCKFLOW = Path(os.environ.get("STOCKFLOW_BIN") or ROOT / ".build" / "debug" / "stockflow")
DJANGO = ROOT / "fixtures" / "django"
HERE = Path(__file__).resolve().parent

PG_URL = os.environ.get("STOCKFLOW_TEST_PG_URL")
if not PG_URL:
    pytest.fail("STOCKFLOW_TEST_PG_URL is not set: run `make test`, or `scripts/with-postgres.sh pytest tests/acceptance`", pytrace=False)


def manage(args, *, sqlite=None, pg_url=None, stdin=None):
    env = dict(os.environ, PYTHONPATH=f"{DJANGO}:{HERE}")
    if pg_url:
        env["DJANGO_SETTINGS_MODULE"] = "django_check.settings_pg"
        env["STOCKFLOW_DJANGO_PG_URL"] = pg_url
    else:
        env["DJANGO_SETTINGS_MODULE"] = "inventory_site.settings"
        env["STOCKFLOW_DJANGO_DB"] = str(sqlite)
    result = subprocess.run([sys.executable, str(DJANGO / "manage.py"), *args], env=env, cwd=DJANGO,
                            capture_output=True, text=True, input=stdin)
    return result


def shell(code, **where):
    result = manage(["shell", "-c", code], **where)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    work = tmp_path_factory.mktemp("django-migration")
    sqlite = work / "inventory.sqlite3"
    shutil.copy(ROOT / "fixtures" / "inventory.sqlite3", sqlite)
    # Changed through the ORM before the move: the last order is deleted (its id must never come back)
    # and a history row gets nested JSON with accents and a quote.
    shell("from stock.models import Commande, Historique\n"
          "Commande.objects.filter(code_cmd=2000).delete()\n"
          "h = Historique.objects.get(id=1); h.details = {'note': 'prix révisé \"été\"', 'lignes': [1, 2.5, None]}; h.save()",
          sqlite=sqlite)
    database = "django_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{database}"')
    target = urlunparse(urlparse(PG_URL)._replace(path="/" + database))
    result = subprocess.run([str(STOCKFLOW), "migrate", str(sqlite), target, "--django-project", str(DJANGO), "--jobs", "2",
                             "--rejects", str(work / "rejects.csv")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    yield sqlite, target, result.stdout
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def dump(**where):
    result = manage(["dumpdata", "--indent", "0", "--all"], **where)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_dumpdata_is_identical(migrated):
    sqlite, target, _ = migrated
    source, migrated_dump = dump(sqlite=sqlite), dump(pg_url=target)
    assert len(source) > 7000
    assert migrated_dump == source


def test_aggregates_are_identical(migrated):
    sqlite, target, _ = migrated
    probe = (HERE / "django_check" / "probe.py").read_text()
    assert json.loads(shell(probe, pg_url=target)) == json.loads(shell(probe, sqlite=sqlite))


def test_new_order_gets_a_fresh_id_never_a_deleted_one(migrated):
    _, target, _ = migrated
    out = shell("from stock.models import Commande, Produit\nfrom django.utils import timezone\n"
                "c = Commande.objects.create(produit=Produit.objects.get(code_prod=1), quantite_cmd=2, montant_commande='10.00', date_commande=timezone.now())\n"
                "print(c.code_cmd)", pg_url=target)
    assert int(out.strip()) == 2001  # 2000 was deleted before the migration; sqlite_sequence remembers it


def test_constraints_are_enforced(migrated):
    _, target, _ = migrated
    out = shell("from django.db import IntegrityError, transaction\nfrom stock.models import Commande, Produit, Facture\nfrom django.utils import timezone\n"
                "def attempt(make):\n"
                "    try:\n"
                "        with transaction.atomic(): make()\n"
                "        return 'accepted'\n"
                "    except IntegrityError as error: return 'rejected'\n"
                "p = Produit.objects.get(code_prod=1)\n"
                "print(attempt(lambda: Commande.objects.create(produit=p, quantite_cmd=0, montant_commande='0', date_commande=timezone.now())))\n"
                "print(attempt(lambda: Commande.objects.create(produit_id=999999, quantite_cmd=1, montant_commande='1', date_commande=timezone.now())))\n"
                "print(attempt(lambda: Facture.objects.create(commande_id=1, montant_total='1', date_facture=timezone.now())))\n",
                pg_url=target)
    assert out.split() == ["rejected", "rejected", "rejected"]  # CHECK, deferred FK, one-to-one UNIQUE


def test_schema_is_what_django_makes_on_postgresql(migrated):
    _, target, _ = migrated
    with psycopg.connect(target) as connection:
        types = dict(connection.execute(
            "SELECT table_name || '.' || column_name, CASE WHEN data_type = 'numeric' THEN 'numeric(' || numeric_precision || ',' || numeric_scale || ')' "
            "WHEN data_type = 'character varying' THEN 'varchar(' || character_maximum_length || ')' ELSE data_type END "
            "FROM information_schema.columns WHERE table_schema = 'public'").fetchall())
        assert types["stock_produit.prix_unit"] == "numeric(10,2)"
        assert types["stock_commande.montant_commande"] == "numeric(12,2)"
        assert types["stock_produit.nom_prod"] == "varchar(200)"
        assert types["stock_produit.is_deleted"] == "boolean"
        assert types["stock_commande.date_commande"] == "timestamp with time zone"
        assert types["stock_historique.details"] == "jsonb"
        deferrable = connection.execute("SELECT count(*), count(*) FILTER (WHERE condeferrable AND condeferred) FROM pg_constraint WHERE contype = 'f'").fetchone()
        assert deferrable[0] > 10 and deferrable[0] == deferrable[1]
        indexes = {row[0] for row in connection.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
        assert "stock_commande_produit_id_e247d645" in indexes
        nullable = connection.execute("SELECT is_nullable FROM information_schema.columns WHERE table_name = 'stock_commande' AND column_name = 'quantite_cmd'").fetchone()
        assert nullable == ("NO",)
