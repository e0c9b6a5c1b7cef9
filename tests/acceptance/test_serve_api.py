"""`stockflow serve` end to end with the real binary: the whole token life, API keys, a run triggered and
waited for with its workbook downloadable (ETag, 304, Range), a lock conflict (409), cancelling a run, the
stats endpoints, and passwords, tokens and keys kept out of logs, history and responses."""
import fcntl
import os
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import requests

from serve_helpers import ROOT, STOCKFLOW, Server, add_user, cli, create_key

PASSWORD = "mot de passe très long"
AS_OF = "2026-11-25"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("serve")
    (work / "state").mkdir()
    state = work / "state" / "state.sqlite"
    add_user(state, "claire", "viewer", PASSWORD)
    add_user(state, "olivier", "operator", PASSWORD)
    server = Server(work, ROOT / "pipelines")
    server.key = create_key(state, "ci", "operator")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def finished_run(server):
    """A nightly-inventory run triggered with the operator key and waited for."""
    response = server.post("/api/pipelines/nightly-inventory/runs", server.key, json={"as_of": AS_OF})
    assert response.status_code == 202, response.text
    run_id = response.json()["id"]
    assert response.headers["Location"] == f"/api/runs/{run_id}"
    waited = server.get(f"/api/runs/{run_id}/wait?timeout=120", server.key)
    assert waited.status_code == 200
    assert waited.json()["status"] == "succeeded", waited.text
    return waited.json()


def test_token_life_obtain_use_refresh_rotate_reuse_revoke_password_change(server):
    pair = server.token("claire", PASSWORD)
    assert server.get("/api/pipelines", pair["access"]).status_code == 200
    rotated = server.post("/api/token/refresh/", json={"refresh": pair["refresh"]})
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["refresh"] != pair["refresh"]
    assert server.get("/api/me", new["access"]).json() == {"name": "claire", "role": "viewer", "kind": "user"}
    # Reuse of the spent refresh token: refused, and the family (the new pair too) revoked.
    reused = server.post("/api/token/refresh/", json={"refresh": pair["refresh"]})
    assert reused.status_code == 401 and reused.json()["error"]["code"] == "token_reused"
    assert server.post("/api/token/refresh/", json={"refresh": new["refresh"]}).status_code == 401
    assert server.get("/api/me", new["access"]).status_code == 401
    # Logout.
    third = server.token("claire", PASSWORD)
    assert server.post("/api/token/revoke/", json={"refresh": third["refresh"]}).status_code == 200
    assert server.get("/api/me", third["access"]).status_code == 401
    # A password change ends every token at once.
    fourth = server.token("claire", PASSWORD)
    cli("users", "passwd", "claire", state=server.state, stdin="un autre mot de passe\n")
    assert server.get("/api/me", fourth["access"]).status_code == 401
    assert server.post("/api/token/refresh/", json={"refresh": fourth["refresh"]}).status_code == 401
    assert server.post("/api/token/", json={"username": "claire", "password": PASSWORD}).status_code == 401
    cli("users", "passwd", "claire", state=server.state, stdin=PASSWORD + "\n")
    assert server.get("/api/me", server.token("claire", PASSWORD)["access"]).status_code == 200


def test_trigger_wait_then_download_the_new_workbook_with_etag_and_range(server, finished_run):
    run_id = finished_run["id"]
    names = [item["name"] for item in server.get(f"/api/runs/{run_id}/artifacts", server.key).json()["items"]]
    workbook = f"inventaire-{AS_OF}.xlsx"
    assert workbook in names and f"rapport-{AS_OF}.html" in names and "rejects.csv" in names
    token = server.token("claire", PASSWORD)["access"]
    latest = server.get(f"/api/pipelines/nightly-inventory/latest/{workbook}", token)
    assert latest.status_code == 200
    assert latest.content[:2] == b"PK"
    assert latest.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert f'filename="{workbook}"' in latest.headers["Content-Disposition"]
    on_disk = (server.out / "nightly-inventory" / workbook).read_bytes()
    assert latest.content == on_disk
    etag = latest.headers["ETag"]
    again = server.get(f"/api/runs/{run_id}/artifacts/{workbook}", token, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    part = server.get(f"/api/runs/{run_id}/artifacts/{workbook}", token, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == on_disk[:10]
    detail = server.get(f"/api/runs/{run_id}", token).json()
    assert detail["pipeline"] == "nightly-inventory" and detail["as_of"] == AS_OF
    assert any(stage["id"] == "orders" and stage["rows_in"] > 0 for stage in detail["stages"])
    rejects = server.get(f"/api/runs/{run_id}/rejects?limit=5", token).json()
    assert rejects["total"] == detail["rejects"] and len(rejects["items"]) == min(5, rejects["total"])
    log = server.get(f"/api/runs/{run_id}/log", token)
    assert log.status_code == 200 and run_id in log.text


def test_stats_endpoints_answer_from_the_runs_report_data(server, finished_run):
    token = server.token("claire", PASSWORD)["access"]
    kinds = {"stock": "bar", "orders": "line", "suppliers": "donut", "stock-value": "gauge"}
    for endpoint, kind in kinds.items():
        response = server.get(f"/api/stats/{endpoint}/", token)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["run_id"] == finished_run["id"] and body["chart"]["kind"] == kind
        assert body["chart"]["items"], endpoint
        for item in body["chart"]["items"]:
            for value in item["values"]:
                assert isinstance(value, str) and value.replace(".", "", 1).lstrip("-").isdigit()
    gauge = server.get("/api/stats/stock-value/", token).json()["chart"]
    assert gauge["target"] == "2000000"


def test_a_run_holding_the_lock_gives_409(server):
    locks = server.state.parent / "locks"
    locks.mkdir(exist_ok=True)
    with open(locks / "nightly-inventory.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        handle.write(str(os.getpid()))
        handle.flush()
        response = server.post("/api/pipelines/nightly-inventory/runs", server.key, json={})
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "run_in_progress"


def test_roles_and_bad_input(server):
    viewer = server.token("claire", PASSWORD)["access"]
    assert server.post("/api/pipelines/nightly-inventory/runs", viewer, json={}).status_code == 403
    assert server.post("/api/pipelines/nope/runs", server.key, json={}).status_code == 404
    bad = server.post("/api/pipelines/nightly-inventory/runs", server.key, json={"as_of": 20261125})
    assert bad.status_code == 400 and "'as_of'" in bad.json()["error"]["message"]
    big = server.post("/api/token/", data=b'{"username": "' + b"x" * 100_000 + b'"}', headers={"Content-Type": "application/json"})
    assert big.status_code == 413 and big.json()["error"]["code"] == "body_too_large"
    assert server.get("/api/runs/does-not-exist", viewer).status_code == 404
    for name in ["..%2F..%2Fstate%2Fstate.sqlite", "%2e%2e%2f%2e%2e%2fserve.log", "%2Fetc%2Fpasswd"]:
        response = server.get(f"/api/pipelines/nightly-inventory/latest/{name}", viewer)
        assert response.status_code == 404, name
        assert b"SQLite" not in response.content and b"root:" not in response.content
    options = requests.options(server.url + "/api/token/", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in options.headers
    assert server.get("/healthz").json() == {"status": "ok"}
    assert "stockflow_http_requests_total" in server.get("/metrics").text


def test_login_is_throttled_with_retry_after(server):
    add_user(server.state, "victime", "viewer", PASSWORD)
    codes = [server.post("/api/token/", json={"username": "victime", "password": "wrong wrong"}).status_code for _ in range(5)]
    assert codes == [401] * 5
    throttled = server.post("/api/token/", json={"username": "victime", "password": PASSWORD})
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1


def test_secrets_never_in_logs_history_or_responses(server, finished_run):
    pair = server.token("olivier", PASSWORD)
    server.get("/api/pipelines", pair["access"])
    texts = [server.log_path.read_text()]
    texts += [path.read_text(errors="replace") for path in (server.state.parent / "logs").glob("*.log")]
    with sqlite3.connect(server.state) as db:
        texts.append(repr(db.execute("SELECT * FROM runs").fetchall()))
        texts.append(repr(db.execute("SELECT * FROM users").fetchall()))
        texts.append(repr(db.execute("SELECT * FROM api_keys").fetchall()))
        texts.append(repr(db.execute("SELECT * FROM refresh_tokens").fetchall()))
    texts.append(server.get("/api/runs?limit=50", server.key).text)
    texts.append(server.get(f"/api/runs/{finished_run['id']}", server.key).text)
    for text in texts:
        for secret in [PASSWORD, pair["access"], pair["refresh"], server.key, "acceptance-test-signing-key"]:
            assert secret not in text


def test_users_list_and_keys_list_show_no_secret(server):
    users = cli("users", "list", state=server.state).stdout
    assert "claire\tviewer" in users and "$2" not in users
    keys = cli("keys", "list", state=server.state).stdout
    assert keys.startswith("ci\toperator") and server.key not in keys


def test_password_never_an_argument_and_bcrypt_cost_12_by_default(tmp_path):
    state = tmp_path / "state.sqlite"
    result = subprocess.run([STOCKFLOW, "users", "add", "paul", "--role", "viewer", "--state", str(state)],
                            input="un mot de passe solide\n", capture_output=True, text=True, timeout=120,
                            env={k: v for k, v in os.environ.items() if k != "STOCKFLOW_TEST_INSECURE_BCRYPT_COST"})
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(state) as db:
        (stored,) = db.execute("SELECT password_hash FROM users WHERE name = 'paul'").fetchone()
    assert stored.startswith("$2b$12$")
    no_password_option = subprocess.run([STOCKFLOW, "users", "add", "x", "--password", "secret123", "--state", str(state)],
                                        capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert no_password_option.returncode != 0


def test_serve_refuses_to_start_without_a_signing_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "STOCKFLOW_JWT_SECRET"}
    base = [STOCKFLOW, "serve", "--pipelines", str(ROOT / "pipelines"), "--out", str(tmp_path / "out"),
            "--state", str(tmp_path / "state.sqlite"), "--listen", "127.0.0.1:0"]
    missing = subprocess.run(base, capture_output=True, text=True, env=env, timeout=60)
    assert missing.returncode == 2 and "STOCKFLOW_JWT_SECRET" in missing.stderr
    short = subprocess.run(base, capture_output=True, text=True, env={**env, "STOCKFLOW_JWT_SECRET": "too short"}, timeout=60)
    assert short.returncode == 2 and "at least 32" in short.stderr
    dev = Server(tmp_path, ROOT / "pipelines", extra=["--dev"], env={"STOCKFLOW_JWT_SECRET": ""})
    try:
        assert "DEVELOPMENT MODE" in dev.log_path.read_text()
    finally:
        dev.stop()


SLOW = """\
version: 1
name: slow-orders
stages:
  orders: {extract: csv, path: "${ORDERS_CSV}", columns: {id: int, amount: {type: decimal, scale: 2}}}
  copy: {load: csv, input: orders, path: "orders.csv"}
"""


def test_cancel_stops_a_run_with_nothing_replaced_and_a_second_trigger_conflicts(tmp_path):
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "slow-orders.yml").write_text(SLOW)
    (tmp_path / "state").mkdir()
    os.mkfifo(tmp_path / "pipe.csv")
    key = create_key(tmp_path / "state" / "state.sqlite", "ci", "operator")
    server = Server(tmp_path, tmp_path / "pipelines", extra=["--stop-timeout", "2"], env={"ORDERS_CSV": str(tmp_path / "pipe.csv")})
    writer = None
    try:
        started = server.post("/api/pipelines/slow-orders/runs", key, json={"idempotency_key": "k1"})
        assert started.status_code == 202, started.text
        run_id = started.json()["id"]
        writer = open(tmp_path / "pipe.csv", "w")
        writer.write("id,amount\n1,2.50\n")
        writer.flush()
        # The same idempotency key gives the same run; a new trigger meets the lock.
        assert server.post("/api/pipelines/slow-orders/runs", key, json={"idempotency_key": "k1"}).json()["id"] == run_id
        assert server.post("/api/pipelines/slow-orders/runs", key, json={}).status_code == 409
        # The run is blocked reading the pipe: the stop abandons it after --stop-timeout, replacing nothing.
        assert server.post(f"/api/runs/{run_id}/cancel", key).status_code == 202
        ended = server.get(f"/api/runs/{run_id}/wait?timeout=60", key).json()
        assert ended["status"] == "cancelled" and ended["exit_code"] == 75
        assert not (server.out / "slow-orders" / "orders.csv").exists()
        assert server.post(f"/api/runs/{run_id}/cancel", key).status_code == 409
    finally:
        if writer:
            writer.close()
        server.stop()


def _running_row(state, pipeline):
    """The history's running row of `pipeline`, once `stockflow run` has recorded itself."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with sqlite3.connect(state) as db:
            row = db.execute("SELECT run_id, pid FROM runs WHERE pipeline = ? AND status = 'running'", (pipeline,)).fetchone()
        if row:
            return row
        time.sleep(0.05)
    raise AssertionError(f"no running row for {pipeline}")


def test_cancel_of_a_run_started_by_hand_is_checked_then_stops_it_with_nothing_replaced(tmp_path):
    """A `stockflow run` started by hand (not by this server) is cancelled through the API only when the
    history, the pipeline's lock, the process's command line and its start time all agree; then SIGTERM
    stops it at its next batch (exit 75) and nothing is replaced."""
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    (pipelines / "slow-orders.yml").write_text(SLOW)
    (tmp_path / "state").mkdir()
    state = tmp_path / "state" / "state.sqlite"
    os.mkfifo(tmp_path / "pipe.csv")
    key = create_key(state, "ci", "operator")
    out = tmp_path / "out" / "slow-orders"
    out.mkdir(parents=True)
    (out / "orders.csv").write_text("id,amount\n0,1.00\n")  # the previous run's file: it must stay as it is
    env = {**os.environ, "ORDERS_CSV": str(tmp_path / "pipe.csv")}
    server = Server(tmp_path, pipelines, env={"ORDERS_CSV": str(tmp_path / "pipe.csv")})
    impostor = None
    writer = None
    run = None
    try:
        # A history row left "running" with no lock held: nothing to stop, and nobody is signalled.
        impostor = subprocess.Popen(["sleep", "300"])
        with sqlite3.connect(state) as db:
            db.execute("""INSERT INTO runs (run_id, pipeline, as_of, started, status, trigger, pid, output_dir)
                          VALUES ('ghost', 'slow-orders', '2026-11-25', '2026-11-25T01:30:00Z', 'running', 'manual', ?, ?)""",
                       (impostor.pid, str(out)))
        refused = server.post("/api/runs/ghost/cancel", key)
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_cancellable", refused.text
        # A process holding the lock with its pid in the lock file and in the history, but not a stockflow run.
        locks = tmp_path / "state" / "locks"
        locks.mkdir(exist_ok=True)
        holder = subprocess.Popen(["python3", "-c", f"""
import fcntl, os, time
f = open({str(locks / 'slow-orders.lock')!r}, 'w')
fcntl.flock(f, fcntl.LOCK_EX)
f.write(str(os.getpid()) + '\\n'); f.flush()
print('locked', flush=True)
time.sleep(300)
"""], stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline().strip() == "locked"
        with sqlite3.connect(state) as db:
            db.execute("UPDATE runs SET pid = ? WHERE run_id = 'ghost'", (holder.pid,))
        refused = server.post("/api/runs/ghost/cancel", key)
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_cancellable", refused.text
        assert holder.poll() is None and impostor.poll() is None
        holder.kill()
        holder.wait()

        # The real thing: a run started by hand, blocked reading its input.
        run = subprocess.Popen([STOCKFLOW, "run", str(pipelines / "slow-orders.yml"), "--out", str(out), "--state", str(state),
                                "--stop-timeout", "2"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        writer = open(tmp_path / "pipe.csv", "w")
        writer.write("id,amount\n1,2.50\n")
        writer.flush()
        run_id, pid = _running_row(state, "slow-orders")
        assert pid == run.pid and run_id != "ghost"
        listed = server.get(f"/api/runs/{run_id}", key).json()
        assert listed["status"] == "running"
        cancelled = server.post(f"/api/runs/{run_id}/cancel", key)
        assert cancelled.status_code == 202, cancelled.text
        assert cancelled.json() == {"id": run_id, "status": "cancelling"}
        assert run.wait(timeout=60) == 75, run.stdout.read()
        ended = server.get(f"/api/runs/{run_id}/wait?timeout=60", key).json()
        assert ended["status"] == "cancelled" and ended["exit_code"] == 75
        assert (out / "orders.csv").read_text() == "id,amount\n0,1.00\n"
        assert server.post(f"/api/runs/{run_id}/cancel", key).json()["error"]["code"] == "run_finished"
    finally:
        for process in (impostor, run):
            if process and process.poll() is None:
                process.kill()
                process.wait()
        if writer:
            writer.close()
        server.stop()
