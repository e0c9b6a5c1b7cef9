"""`stockflow migrate` as a user meets it: refusals with their sentence and exit code, the plan naming
what is not carried, and a non-Django SQLite application migrated into the private test server."""
import os
import sqlite3
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg

ROOT = Path(__file__).resolve().parents[2]
STOCKFLOW = Path(os.environ.get("STOCKFLOW_BIN") or ROOT / ".build" / "debug" / "stockflow")
PG_URL = os.environ.get("STOCKFLOW_TEST_PG_URL", "")


def migrate(*args, cwd=None):
    return subprocess.run([str(STOCKFLOW), "migrate", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_an_empty_file_is_refused_with_exit_1(tmp_path):
    empty = tmp_path / "app.sqlite3"
    empty.write_bytes(b"")
    result = migrate(empty, "postgres://nobody@127.0.0.1:1/x", "--retries", "0")
    assert result.returncode == 1
    assert "is empty: it is not an SQLite database" in result.stderr


def test_a_file_that_is_not_sqlite_is_refused_with_exit_1(tmp_path):
    text = tmp_path / "export.sqlite3"
    text.write_text("id,name\n1,vis\n")
    result = migrate(text, "postgres://nobody@127.0.0.1:1/x", "--retries", "0")
    assert result.returncode == 1
    assert "is not an SQLite database" in result.stderr


def test_a_bad_type_override_is_a_usage_error(tmp_path):
    db = tmp_path / "app.sqlite3"
    sqlite3.connect(db).execute("create table t(id integer primary key)").connection.commit()
    result = migrate(db, "postgres://nobody@127.0.0.1:1/x", "--type", "t.id=geometry")
    assert result.returncode == 2, result.stderr  # usage, as in the README's exit-code table
    assert "--type 't.id=geometry'" in result.stderr
    for args in (["--jobs", "0"], ["--jobs", "many"], ["--no-such-option"], ["--cascade"]):
        other = migrate(db, "postgres://nobody@127.0.0.1:1/x", *args)
        assert other.returncode == 2, (args, other.returncode, other.stderr)
        assert "Error:" in other.stderr and "Fatal error" not in other.stderr


def test_the_dry_run_names_views_triggers_and_what_stops_the_migration(tmp_path):
    db = tmp_path / "app.sqlite3"
    with sqlite3.connect(db) as connection:
        connection.executescript("""
            create table t(id integer primary key, a int, check(typeof(a) = 'integer'));
            create view v as select [a] from t;
            create view w as select strftime('%Y', 'now') as y;
            create trigger tr after insert on t begin select 1; end;
        """)
    result = migrate(db, "postgres://nobody@127.0.0.1:1/x", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "view v: translated" in result.stdout
    assert "view w: NOT CARRIED" in result.stdout and "strftime" in result.stdout
    assert "trigger tr on t: NOT CARRIED" in result.stdout
    assert "STOPS THE MIGRATION: CHECK t_check" in result.stdout and "--skip-check t_check" in result.stdout


def test_a_laravel_database_migrates_and_the_summary_lists_the_changes(tmp_path):
    db = tmp_path / "laravel.sqlite3"
    with sqlite3.connect(db) as connection:
        connection.executescript((ROOT / "fixtures" / "sqlite-corpus" / "laravel.sql").read_text())
        connection.executescript("create trigger touch after update on users begin select 1; end;")
    database = "cli_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        target = urlunparse(urlparse(PG_URL)._replace(path="/" + database))
        result = migrate(db, target, "--rejects", tmp_path / "rejects.csv")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "verified" in result.stdout
        assert "note: trigger touch on users not carried" in result.stdout
        assert "TRIGGER touch after update on users" in (tmp_path / "migrate-triggers.sql").read_text()
        with psycopg.connect(target) as connection:
            assert connection.execute("SELECT total::text FROM orders ORDER BY id").fetchall() == [("19.9",), ("0.000001",)]  # '19.90' in a numeric column is the REAL 19.9 in SQLite
            connection.execute("INSERT INTO orders (user_id) VALUES (1)")
            assert connection.execute("SELECT status, total::text FROM orders WHERE id = 3").fetchone() == ("pending", "0")
        again = migrate(db, target, "--if-exists", "replace", "--rejects", tmp_path / "rejects.csv")
        assert again.returncode == 0, again.stderr
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
