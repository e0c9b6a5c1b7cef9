"""`stockflow schedule --next --from`: fire times counted from a given instant, around a DST change."""
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STOCKFLOW = str(ROOT / ".build" / "debug" / "stockflow")


def next_fires(tmp_path, cron, zone, *args):
    (tmp_path / "pipelines").mkdir(exist_ok=True)
    (tmp_path / "in.csv").write_text("a\n1\n")
    (tmp_path / "pipelines" / "p.yml").write_text(
        f'version: 1\nname: p\nschedule: {{cron: "{cron}", timezone: {zone}}}\n'
        "stages:\n  src: {extract: csv, path: ../in.csv}\n  out: {load: csv, input: src, path: out.csv}\n")
    return subprocess.run([STOCKFLOW, "schedule", "pipelines", "--next", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)


def test_from_sets_now_around_the_autumn_change(tmp_path):
    # 2026-10-25 in Paris: 03:00 CEST goes back to 02:00 CET. From 02:10 CET (the second 02:10),
    # the quarter-hour fires go on in CET; the repeated 02:15-02:45 ran once already, in CEST.
    result = next_fires(tmp_path, "*/15 * * * *", "Europe/Paris", "--from", "2026-10-25T02:10+01:00", "--count", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1:] == ["  2026-10-25 03:00 +01:00 Europe/Paris  as of 2026-10-25",
                         "  2026-10-25 03:15 +01:00 Europe/Paris  as of 2026-10-25",
                         "  2026-10-25 03:30 +01:00 Europe/Paris  as of 2026-10-25"]


def test_from_before_the_change_sees_the_first_occurrence(tmp_path):
    result = next_fires(tmp_path, "30 2 * * *", "Europe/Paris", "--from", "2026-10-25T02:10+02:00", "--count", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == ["  2026-10-25 02:30 +02:00 Europe/Paris  as of 2026-10-25",
                                              "  2026-10-26 02:30 +01:00 Europe/Paris  as of 2026-10-26"]


def test_utc_prints_as_utc(tmp_path):
    result = next_fires(tmp_path, "0 6 * * *", "UTC", "--from", "2026-11-25T00:00Z", "--count", "1")
    assert result.returncode == 0, result.stderr
    assert '"0 6 * * *" UTC,' in result.stdout
    assert result.stdout.splitlines()[1] == "  2026-11-25 06:00 +00:00 UTC  as of 2026-11-25"
    assert "GMT" not in result.stdout


def test_from_without_an_offset_or_without_next_is_refused(tmp_path):
    result = next_fires(tmp_path, "0 6 * * *", "UTC", "--from", "2026-11-25T00:00")
    assert result.returncode != 0
    assert "--from must be an instant with its UTC offset" in result.stderr
    no_next = subprocess.run([STOCKFLOW, "schedule", "pipelines", "--from", "2026-11-25T00:00Z"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
    assert no_next.returncode != 0
    assert "--from only applies to --next" in no_next.stderr


def test_a_cron_that_never_fires_is_refused_before_scheduling(tmp_path):
    result = next_fires(tmp_path, "0 0 31 4,6,9,11 *", "UTC")
    assert result.returncode == 2
    assert "day-of-month field '31' and month field '4,6,9,11' never meet" in result.stderr
