"""Differential test: random valid CSV files (quotes, separators, line breaks in fields, encodings)
through `extract: csv` → `load: csv` with the real binary must read back exactly as Python's `csv`
module reads the input.

Cases are batched: each Hypothesis example (a seed for a random generator) makes one pipeline of
CASES_PER_RUN extract/load pairs, run by one `stockflow run`, so thousands of files are checked in
well under a minute. A failure names the case: its dialect, encoding and rows.

What stockflow does differently on purpose, and the generator therefore avoids: a row whose fields
are all empty is skipped (filtered, counted), and a NUL byte means a binary file."""
import csv
import io
import random
import subprocess
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
STOCKFLOW = str(ROOT / ".build" / "debug" / "stockflow")
CASES_PER_RUN = 250
RUNS = 10  # 2,500 cases per test run

DELIMITERS = [",", ";", "\t", "|"]
ENCODINGS = {
    # (stockflow's name, Python codec, characters beyond ASCII the file may hold)
    "utf-8": ("utf-8", "éèàçÉœŒ€–’«» ✓漢字"),
    "utf-8-bom": ("utf-8-sig", "éèàç€–"),
    "windows-1252": ("cp1252", "éèàçÉœŒ€–’«» "),
    "iso-8859-1": ("latin-1", "éèàçÉ«» ²µ"),
}
QUOTING = {"minimal": csv.QUOTE_MINIMAL, "all": csv.QUOTE_ALL, "nonnumeric": csv.QUOTE_NONNUMERIC}
LINE_ENDS = ["\r\n", "\n"]


def random_table(rng):
    """One CSV case: a dialect, an encoding and rows of text fields (drawn from `rng`, a seeded Random)."""
    delimiter = rng.choice(DELIMITERS)
    encoding = rng.choice(sorted(ENCODINGS))
    line_end = rng.choice(LINE_ENDS)
    alphabet = list("abcXYZ019 .-'") + [",", ";", "\t", "|", '"', '""', "\n", "\r\n", "  "] + list(ENCODINGS[encoding][1])
    if line_end == "\r\n":
        # Python's writer quotes a field holding a character of the line terminator only: with "\n"
        # line ends it would leave a lone CR unquoted, which every reader (Python's too) takes for a line end.
        alphabet.append("\r")
    width = rng.randint(2, 5)
    rows = []
    for _ in range(rng.randint(0, 8)):
        row = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(width)]
        if any(row):  # a row of empty fields is skipped on purpose
            rows.append(row)
    return {"delimiter": delimiter, "encoding": encoding, "quoting": rng.choice(sorted(QUOTING)),
            "line_end": line_end, "header": [f"c{i}" for i in range(width)], "rows": rows}


def write_case(case, path):
    text = io.StringIO(newline="")
    writer = csv.writer(text, delimiter=case["delimiter"], quoting=QUOTING[case["quoting"]],
                        lineterminator=case["line_end"])
    writer.writerow(case["header"])
    writer.writerows(case["rows"])
    path.write_bytes(text.getvalue().encode(ENCODINGS[case["encoding"]][0]))


def python_reading(case, path):
    with open(path, encoding=ENCODINGS[case["encoding"]][0], newline="") as file:
        return list(csv.reader(file, delimiter=case["delimiter"]))


def pipeline(cases):
    lines = ["version: 1", "name: csv-differential", "stages:"]
    for index, case in enumerate(cases):
        delimiter = "\\t" if case["delimiter"] == "\t" else case["delimiter"]
        encoding = "utf-8" if case["encoding"] == "utf-8-bom" else case["encoding"]
        lines += [f"  in{index}:", "    extract: csv", f"    path: in{index}.csv", f'    delimiter: "{delimiter}"',
                  f"    encoding: {encoding}",
                  f"  out{index}:", "    load: csv", f"    input: in{index}", f"    path: out{index}.csv"]
    return "\n".join(lines) + "\n"


# No shrinking: a seed does not shrink into a smaller case; the failure message prints the case.
@settings(max_examples=RUNS, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.generate])
@given(st.integers(min_value=0, max_value=2**32))
def test_extract_then_load_reads_every_field_as_pythons_csv_module(seed):
    rng = random.Random(seed)
    cases = [random_table(rng) for _ in range(CASES_PER_RUN)]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for index, case in enumerate(cases):
            write_case(case, work / f"in{index}.csv")
        (work / "p.yml").write_text(pipeline(cases))
        result = subprocess.run([STOCKFLOW, "run", "p.yml", "--out", "out", "--as-of", "2026-11-25"], cwd=work,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        for index, case in enumerate(cases):
            expected = python_reading(case, work / f"in{index}.csv")
            with open(work / "out" / f"out{index}.csv", encoding="utf-8", newline="") as file:
                got = list(csv.reader(file))
            assert got == expected, f"case {index}: {case}"
        assert not (work / "out" / "rejects.csv").exists() or \
            (work / "out" / "rejects.csv").read_text().count("\n") <= 1, (work / "out" / "rejects.csv").read_text()
