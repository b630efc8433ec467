"""docs/webhooks-out.md works as written: its event catalogue is the code's, and its "verify a signature and
deduplicate" snippets (Python, Node with and without the standardwebhooks package, bash with openssl, and
the curl sender) accept a delivery signed the way notifications.signing signs and refuse a tampered one."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.conf import settings
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from notifications.catalogue import EVENT_TYPES_BY_NAME, envelope_example
from notifications.catalogue_docs import DOCUMENT, catalogue_section, document_with_catalogue
from notifications.dispatch import JITTER, MAX_ATTEMPTS, RETRY_DELAYS
from notifications.signing import payload_sign, secret_generate

TEXT = DOCUMENT.read_text(encoding="utf-8")


def snippet(name: str) -> str:
    """The fenced code block right after `<!-- snippet: name -->`."""
    found = re.search(rf"<!-- snippet: {name} -->\n```\w+\n(.*?)^```", TEXT, flags=re.MULTILINE | re.DOTALL)
    assert found is not None, f"no snippet {name} in {DOCUMENT.name}"
    return found.group(1)


def delivery(secret: str, *, signed_at: dt.datetime | None = None) -> tuple[bytes, dict[str, str]]:
    """A body and the headers Verity sends with it, signed now with `secret` (non-ASCII text included: the
    signature covers the UTF-8 bytes)."""
    example = envelope_example(EVENT_TYPES_BY_NAME["outcome.billable"])
    example["data"]["reason_text"] = "Résolu : le client a confirmé la résolution."
    body = orjson.dumps(example)
    msg_id = f"msg_{uuid.uuid4().hex}"
    at = signed_at or dt.datetime.now(dt.UTC)
    signature = payload_sign(secrets=[secret], msg_id=msg_id, timestamp=at, payload=body)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }
    return body, headers


def tampered(body: bytes) -> bytes:
    changed = body.replace(b'"state":"billable"', b'"state":"rejected"', 1)
    assert changed != body
    return changed


def test_the_catalogue_section_is_current() -> None:
    """Fails when a domain app's event types changed: run `python -m notifications.catalogue_docs`."""
    assert document_with_catalogue(TEXT, catalogue_section()) == TEXT


def test_the_catalogue_section_names_every_type() -> None:
    for name in EVENT_TYPES_BY_NAME:
        assert f"### `{name}`" in TEXT
        assert f"[`{name}`](#{name.replace('.', '')})" in TEXT


def test_the_retry_schedule_is_the_dispatchers() -> None:
    def spoken(delay: dt.timedelta) -> str:
        seconds = int(delay.total_seconds())
        if seconds < 60:
            return f"{seconds} seconds"
        return f"{seconds // 60} minutes" if seconds < 3600 else f"{seconds // 3600} hours"

    *firsts, last = [spoken(delay) for delay in RETRY_DELAYS]
    schedule = " ".join(TEXT.split())  # the paragraph's line breaks as spaces

    assert f"**{', '.join(firsts)} and {last}**" in schedule
    assert f"{MAX_ATTEMPTS} attempts" in schedule
    assert f"±{round(JITTER * 100)} % jitter" in schedule


def test_every_webhooks_out_setting_is_documented_and_every_documented_one_exists() -> None:
    documented = set(re.findall(r"\bWEBHOOKS_OUT_[A-Z_]+\b", TEXT))
    defined = {name for name in dir(settings) if name.startswith("WEBHOOKS_OUT_")}

    assert documented == defined


def test_the_python_snippet_accepts_a_signed_delivery_once_and_refuses_a_tampered_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = secret_generate()
    monkeypatch.setenv("VERITY_WEBHOOK_SECRET", secret)
    handled: list[Any] = []
    namespace: dict[str, Any] = {"handle": handled.append}
    exec(compile(snippet("python"), str(DOCUMENT), "exec"), namespace)  # noqa: S102
    receive = namespace["receive"]
    body, headers = delivery(secret)

    assert receive(tampered(body), headers) == 400
    assert handled == []
    assert receive(body, headers) == 200
    assert receive(body, headers) == 200  # a retry: answered, not handled again
    assert handled == [json.loads(body)]
    other_body, other_headers = delivery(secret_generate())
    assert receive(other_body, other_headers) == 400  # signed with another secret
    old_body, old_headers = delivery(secret, signed_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10))
    assert receive(old_body, old_headers) == 400  # replayed long after
    assert handled == [json.loads(body)]


def test_the_python_snippet_accepts_either_signature_during_a_rotation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, new = secret_generate(), secret_generate()
    monkeypatch.setenv("VERITY_WEBHOOK_SECRET", old)
    handled: list[Any] = []
    namespace: dict[str, Any] = {"handle": handled.append}
    exec(compile(snippet("python"), str(DOCUMENT), "exec"), namespace)  # noqa: S102
    body, headers = delivery(new)
    at = dt.datetime.fromtimestamp(int(headers["webhook-timestamp"]), dt.UTC)
    headers["webhook-signature"] = payload_sign(
        secrets=[new, old], msg_id=headers["webhook-id"], timestamp=at, payload=body
    )

    assert len(headers["webhook-signature"].split(" ")) == 2
    assert namespace["receive"](body, headers) == 200
    assert handled == [json.loads(body)]


# --- Node -------------------------------------------------------------------------------------------------

NODE_HARNESS = """
const cases = JSON.parse(require("node:fs").readFileSync(process.argv[2], "utf8"));
const handled = [];
function handle(event) { handled.push(event.type); }
const statuses = cases.map(([body, headers]) => receive(body, headers));
console.log(JSON.stringify({ statuses, handled }));
"""


def run_node(
    code: str, secret: str, cases: list[tuple[bytes, dict[str, str]]], tmp_path: Path
) -> dict[str, Any]:
    script = tmp_path / "receiver.js"
    script.write_text(code + NODE_HARNESS, encoding="utf-8")
    cases_file = tmp_path / "cases.json"
    cases_file.write_text(json.dumps([[body.decode(), headers] for body, headers in cases]), encoding="utf-8")
    finished = subprocess.run(  # noqa: S603
        ["node", str(script), str(cases_file)],  # noqa: S607
        capture_output=True,
        text=True,
        env={**os.environ, "VERITY_WEBHOOK_SECRET": secret},
        timeout=30,
        check=True,
    )
    return dict(json.loads(finished.stdout))


def node_cases(secret: str) -> list[tuple[bytes, dict[str, str]]]:
    body, headers = delivery(secret)
    other_body, other_headers = delivery(secret_generate())
    return [(tampered(body), headers), (body, headers), (body, headers), (other_body, other_headers)]


needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not on PATH")


def node_has_standardwebhooks() -> bool:
    """Whether node resolves the `standardwebhooks` package (installed beside it, or through NODE_PATH)."""
    if shutil.which("node") is None:
        return False
    found = subprocess.run(
        ["node", "-e", "require.resolve('standardwebhooks')"],  # noqa: S607
        capture_output=True,
        check=False,
        timeout=30,
    )
    return found.returncode == 0


@needs_node
def test_the_node_crypto_snippet_accepts_a_signed_delivery_once_and_refuses_a_tampered_one(
    tmp_path: Path,
) -> None:
    secret = secret_generate()

    result = run_node(snippet("node-crypto"), secret, node_cases(secret), tmp_path)

    assert result == {"statuses": [400, 200, 200, 400], "handled": ["outcome.billable"]}


@pytest.mark.skipif(
    not node_has_standardwebhooks(),
    reason="node or its standardwebhooks package is missing (npm install standardwebhooks; NODE_PATH)",
)
def test_the_node_standardwebhooks_snippet_accepts_a_signed_delivery_once_and_refuses_a_tampered_one(
    tmp_path: Path,
) -> None:
    secret = secret_generate()

    result = run_node(snippet("node-standardwebhooks"), secret, node_cases(secret), tmp_path)

    assert result == {"statuses": [400, 200, 200, 400], "handled": ["outcome.billable"]}


# --- bash, openssl and curl -------------------------------------------------------------------------------

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not on PATH")


def run_verify(
    secret: str, body: bytes, headers: dict[str, str], folder: Path
) -> subprocess.CompletedProcess[str]:
    (folder / "body.json").write_bytes(body)
    return subprocess.run(  # noqa: S603
        ["bash", "-c", snippet("shell-verify")],  # noqa: S607
        cwd=folder,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "SECRET": secret,
            "ID": headers["webhook-id"],
            "TS": headers["webhook-timestamp"],
            "SIG": headers["webhook-signature"],
        },
        timeout=30,
        check=False,
    )


@needs_openssl
def test_the_openssl_snippet_accepts_a_signed_delivery_once_and_refuses_a_tampered_one(
    tmp_path: Path,
) -> None:
    secret = secret_generate()
    body, headers = delivery(secret)

    refused = run_verify(secret, tampered(body), headers, tmp_path)
    first = run_verify(secret, body, headers, tmp_path)
    again = run_verify(secret, body, headers, tmp_path)

    assert (refused.returncode, refused.stdout) == (1, "signature invalid\n")
    assert (first.returncode, first.stdout) == (0, "signature valid\n")
    assert (again.returncode, again.stdout) == (0, "signature valid\nduplicate: already handled\n")
    assert (tmp_path / "seen-ids.txt").read_text() == f"{headers['webhook-id']}\n"


@needs_openssl
def test_the_openssl_snippet_accepts_either_signature_during_a_rotation_and_refuses_an_old_timestamp(
    tmp_path: Path,
) -> None:
    old, new = secret_generate(), secret_generate()
    body, headers = delivery(new)
    at = dt.datetime.fromtimestamp(int(headers["webhook-timestamp"]), dt.UTC)
    headers["webhook-signature"] = payload_sign(
        secrets=[new, old], msg_id=headers["webhook-id"], timestamp=at, payload=body
    )
    stale_body, stale_headers = delivery(old, signed_at=at - dt.timedelta(minutes=10))

    assert run_verify(old, body, headers, tmp_path).stdout == "signature valid\n"
    stale = run_verify(old, stale_body, stale_headers, tmp_path)
    assert (stale.returncode, stale.stdout) == (1, "timestamp more than 5 minutes off\n")


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A loopback HTTP receiver: its URL and what it got (headers, body)."""
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks", received
    server.shutdown()
    server.server_close()


@needs_openssl
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not on PATH")
def test_the_curl_sender_posts_a_body_standardwebhooks_verifies(
    receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    url, received = receiver
    secret = secret_generate()

    sent = subprocess.run(  # noqa: S603
        ["bash", "-c", snippet("shell-send")],  # noqa: S607
        capture_output=True,
        text=True,
        env={**os.environ, "SECRET": secret, "RECEIVER_URL": url},
        timeout=30,
        check=False,
    )

    assert sent.returncode == 0, sent.stderr
    assert len(received) == 1
    headers, body = received[0]
    assert Webhook(secret).verify(body, headers)["type"] == "webhook.test"
    with pytest.raises(WebhookVerificationError):
        Webhook(secret_generate()).verify(body, headers)
