"""schemathesis against api/openapi.yaml with a valid token: no 5xx and no response outside the contract."""
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from serve_helpers import ROOT, Server, add_user, create_key

PASSWORD = "mot de passe pour le contrat"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("openapi")
    (work / "state").mkdir()
    state = work / "state" / "state.sqlite"
    add_user(state, "claire", "viewer", PASSWORD)
    key = create_key(state, "ci", "operator")
    server = Server(work, ROOT / "pipelines")
    run_id = server.post("/api/pipelines/nightly-inventory/runs", key, json={"as_of": "2026-11-25"}).json()["id"]
    assert server.get(f"/api/runs/{run_id}/wait?timeout=120", key).json()["status"] == "succeeded"
    yield server
    server.stop()


def test_the_served_contract_is_the_repository_file(server):
    served = requests.get(server.url + "/api/openapi.yaml", timeout=30)
    assert served.status_code == 200
    assert served.text == (ROOT / "api" / "openapi.yaml").read_text()
    assert yaml.safe_load(served.text)["openapi"] == "3.1.0"


def test_schemathesis_finds_no_server_error_and_no_response_outside_the_contract(server):
    token = server.token("claire", PASSWORD)["access"]
    schemathesis = Path(sys.executable).parent / "st"
    result = subprocess.run(
        [str(schemathesis), "run", str(ROOT / "api" / "openapi.yaml"), "--url", server.url,
         "--header", f"Authorization: Bearer {token}",
         "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance",
         "--max-examples", "25", "--seed", "1"],
        capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
