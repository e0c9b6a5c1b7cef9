"""The digest through a real SMTP server on loopback: aiosmtpd with STARTTLS (a self-signed certificate
made here with openssl) and AUTH. `stockflow run pipelines/nightly-inventory.yml` sends it; the received
message is parsed with Python's email package and every part is checked. Also: a 4xx reply is retried,
a 5xx reply fails at once and keeps the message in outbox/, a server without STARTTLS is refused, and
with no SMTP configured the .eml lands in outbox/."""
import email
import email.policy
import os
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

ROOT = Path(__file__).resolve().parents[2]
STOCKFLOW = Path(os.environ.get("STOCKFLOW_BIN") or ROOT / ".build" / "debug" / "stockflow")
AS_OF = "2026-11-25"
USER, PASSWORD = "finance-robot", "s3cret-p4ss"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
                   check=True, capture_output=True)
    return folder / "cert.pem", folder / "key.pem"


class Inbox:
    """Keeps what the server received; `replies` scripts the answers to DATA (then 250)."""

    def __init__(self, replies=()):
        self.messages, self.replies, self.logins = [], list(replies), []

    async def handle_DATA(self, server, session, envelope):
        if self.replies:
            return self.replies.pop(0)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 queued"


def start_server(certificate, inbox, starttls=True):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))

    def authenticate(server, session, envelope, mechanism, auth_data):
        inbox.logins.append((mechanism, auth_data.login.decode()))
        return AuthResult(success=auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode())

    options = dict(auth_required=True, auth_require_tls=starttls, authenticator=authenticate)
    if starttls:
        options.update(tls_context=context, require_starttls=True)
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    return controller


def run(out, port, certificate, starttls="required", extra=None):
    env = dict(os.environ, STOCKFLOW_SMTP_URL=f"smtp://127.0.0.1:{port}", STOCKFLOW_SMTP_USER=USER,
               STOCKFLOW_SMTP_PASSWORD=PASSWORD, STOCKFLOW_SMTP_CA_FILE=str(certificate[0]),
               STOCKFLOW_SMTP_STARTTLS=starttls, STOCKFLOW_SMTP_RETRY_DELAY="0", **(extra or {}))
    return subprocess.run([str(STOCKFLOW), "run", "pipelines/nightly-inventory.yml", "--out", str(out), "--as-of", AS_OF],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def delivered(certificate, tmp_path_factory):
    inbox = Inbox()
    controller = start_server(certificate, inbox)
    try:
        out = tmp_path_factory.mktemp("sent")
        result = run(out, controller.port, certificate)
    finally:
        controller.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(inbox.messages) == 1
    return out, inbox, result


def test_the_digest_arrives_once_after_starttls_and_auth(delivered):
    out, inbox, result = delivered
    mail_from, rcpt_tos, _ = inbox.messages[0]
    assert mail_from == "stockflow@example.com"
    assert rcpt_tos == ["finance@example.com"]
    assert inbox.logins and inbox.logins[0][1] == USER
    assert not (out / "outbox").exists(), "a sent digest is not also written to the outbox"


def test_the_password_is_never_printed(delivered):
    out, _, result = delivered
    assert PASSWORD not in result.stdout + result.stderr
    assert PASSWORD not in (out / "run.json").read_text()


def test_headers_are_complete(delivered):
    message = email.message_from_bytes(delivered[1].messages[0][2], policy=email.policy.default)
    assert message["From"].addresses[0].addr_spec == "stockflow@example.com"
    assert message["To"].addresses[0].addr_spec == "finance@example.com"
    assert message["To"].addresses[0].display_name == "Service financier"
    assert message["Subject"] == "Inventaire du 25/11/2026 : 7 rejet(s), 5 constat(s)"
    assert message["Date"].datetime is not None
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith("@example.com>")
    assert message.get_content_type() == "multipart/mixed"


def test_every_part_has_its_type_and_name(delivered):
    out, inbox, _ = delivered
    message = email.message_from_bytes(inbox.messages[0][2], policy=email.policy.default)
    parts = [(part.get_content_type(), part.get_filename()) for part in message.walk()]
    assert parts == [("multipart/mixed", None), ("multipart/alternative", None), ("text/plain", None), ("text/html", None),
                     (XLSX, f"inventaire-{AS_OF}.xlsx"), ("text/html", f"rapport-{AS_OF}.html"), ("text/csv", "rejects.csv")]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for body in (text, html):
        assert "1\u202f726\u202f352,80\u00a0€" in body, "stock value in French format"
        assert "Lignes rejetées" in body and "Montant de commande différent du recalcul" in body and "order-total-mismatch" not in body
    attachments = {part.get_filename(): part.get_payload(decode=True) for part in message.iter_attachments()}
    assert attachments[f"inventaire-{AS_OF}.xlsx"] == (out / f"inventaire-{AS_OF}.xlsx").read_bytes()
    assert attachments[f"rapport-{AS_OF}.html"] == (out / f"rapport-{AS_OF}.html").read_bytes()
    for part in message.iter_attachments():
        assert part.get_content_disposition() == "attachment"


def test_a_4xx_reply_is_retried(certificate, tmp_path):
    inbox = Inbox(replies=["451 4.3.0 mailbox busy, try later"])
    controller = start_server(certificate, inbox)
    try:
        result = run(tmp_path, controller.port, certificate)
    finally:
        controller.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(inbox.messages) == 1


def test_a_5xx_reply_fails_at_once_and_keeps_the_message(certificate, tmp_path):
    inbox = Inbox(replies=["554 5.7.1 rejected by policy"] * 5)
    controller = start_server(certificate, inbox)
    try:
        result = run(tmp_path, controller.port, certificate)
    finally:
        controller.stop()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "refused" in result.stdout + result.stderr and "554" in result.stdout + result.stderr
    assert len(inbox.replies) == 4, "no retry after a 5xx reply"
    assert (tmp_path / f"inventaire-{AS_OF}.xlsx").exists(), "the outputs stay committed"
    assert (tmp_path / "outbox" / f"nightly-inventory-{AS_OF}.eml").exists()


def test_starttls_required_refuses_a_server_without_it(certificate, tmp_path):
    inbox = Inbox()
    controller = start_server(certificate, inbox, starttls=False)
    try:
        result = run(tmp_path, controller.port, certificate)
    finally:
        controller.stop()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "SSL" in result.stdout + result.stderr or "TLS" in result.stdout + result.stderr
    assert inbox.messages == [] and inbox.logins == []


def test_without_smtp_the_message_goes_to_the_outbox(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("STOCKFLOW_SMTP")}
    result = subprocess.run([str(STOCKFLOW), "run", "pipelines/nightly-inventory.yml", "--out", str(tmp_path), "--as-of", AS_OF],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    message = email.message_from_bytes((tmp_path / "outbox" / f"nightly-inventory-{AS_OF}.eml").read_bytes(),
                                       policy=email.policy.default)
    assert [part.get_filename() for part in message.iter_attachments()] == [f"inventaire-{AS_OF}.xlsx", f"rapport-{AS_OF}.html", "rejects.csv"]
    assert message["Subject"].startswith("Inventaire du 25/11/2026")


def test_a_file_over_the_attachment_limit_is_named_not_attached(tmp_path):
    pipeline = (ROOT / "pipelines" / "nightly-inventory.yml").read_text()
    assert "attach: [workbook, report]" in pipeline
    (tmp_path / "p.yml").write_text(pipeline.replace("attach: [workbook, report]", "attach: [workbook, report]\n    max_attachment_mb: 0"))
    env = {key: value for key, value in os.environ.items() if not key.startswith("STOCKFLOW_SMTP")}
    env["STOCKFLOW_FIXTURES"] = str(ROOT / "fixtures")
    out = tmp_path / "out"
    result = subprocess.run([str(STOCKFLOW), "run", str(tmp_path / "p.yml"), "--out", str(out), "--as-of", AS_OF,
                             "--state", str(tmp_path / "state.sqlite")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    message = email.message_from_bytes((out / "outbox" / f"nightly-inventory-{AS_OF}.eml").read_bytes(), policy=email.policy.default)
    assert list(message.iter_attachments()) == []
    text = message.get_body(preferencelist=("plain",)).get_content()
    # In the digest's language, and without the server's path (issue 12): the note of the run has it.
    assert f"inventaire-{AS_OF}.xlsx" in text and "n’est pas joint, au-delà de la limite de 0 Mo" in text
    assert str(out) not in text
    assert str(out / f"inventaire-{AS_OF}.xlsx") in result.stdout + result.stderr
