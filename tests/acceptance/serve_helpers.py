"""Starting the real `stockflow serve` for the acceptance tests: users and keys made with the real commands,
the server on a free port, its log kept for the secrets checks."""
import os
import re
import subprocess
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
STOCKFLOW = os.environ.get("STOCKFLOW_BIN") or str(ROOT / ".build" / "debug" / "stockflow")
SECRET = "acceptance-test-signing-key-0123456789abcdef"
# bcrypt at cost 4 through the explicit test-only setting; one test checks the real default (12).
FAST_BCRYPT = {"STOCKFLOW_TEST_INSECURE_BCRYPT_COST": "4"}


def cli(*args, state, stdin=None, env=None, check=True):
    result = subprocess.run([STOCKFLOW, *args, "--state", str(state)], input=stdin, capture_output=True, text=True,
                            timeout=120, env={**os.environ, **FAST_BCRYPT, **(env or {})})
    if check:
        assert result.returncode == 0, result.stderr
    return result


def add_user(state, name, role, password):
    cli("users", "add", name, "--role", role, state=state, stdin=password + "\n")


def create_key(state, name, role="operator"):
    return cli("keys", "create", name, "--role", role, state=state).stdout.strip()


class Server:
    """A running `stockflow serve`; `url` is its base address."""

    def __init__(self, work, pipelines, extra=(), env=None):
        self.work = Path(work)
        self.state = self.work / "state" / "state.sqlite"
        self.out = self.work / "out"
        self.log_path = self.work / "serve.log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [STOCKFLOW, "serve", "--pipelines", str(pipelines), "--out", str(self.out), "--state", str(self.state),
             "--listen", "127.0.0.1:0", *extra],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.work,
            env={**os.environ, **FAST_BCRYPT, "STOCKFLOW_JWT_SECRET": SECRET, **(env or {})})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+)/", self.log_path.read_text())
            if match:
                self.url = match.group(1)
                return
            if self.process.poll() is not None:
                raise AssertionError("serve exited: " + self.log_path.read_text())
            time.sleep(0.05)
        raise AssertionError("serve did not start: " + self.log_path.read_text())

    def token(self, name, password):
        response = requests.post(self.url + "/api/token/", json={"username": name, "password": password}, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def get(self, path, token=None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = "Bearer " + token
        return requests.get(self.url + path, headers=headers, timeout=120, **kwargs)

    def post(self, path, token=None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = "Bearer " + token
        return requests.post(self.url + path, headers=headers, timeout=120, **kwargs)

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
