"""Production settings: `manage.py check --deploy` is clean, the security headers are sent, and the
application serves its own static files."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import run_checks
from django.test import Client, override_settings

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": Fernet.generate_key().decode() + Fernet.generate_key().decode(),
    # Two keys: a single one is a deploy warning (verity.W001).
    "FIELD_ENCRYPTION_KEYS": f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}",
    "ALLOWED_HOSTS": "verity.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://verity.example.com",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return python("manage.py", *args, **env)


def python(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # Not what this test process set for itself (browser tests allow async-unsafe calls, for one).
    inherited = ("DEBUG", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    environment = {k: v for k, v in os.environ.items() if k not in inherited}
    return subprocess.run(  # noqa: S603 (our own interpreter, with manage.py or our own script)
        [sys.executable, *args],
        env=environment | env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_with_production_settings() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def check_ids(*, deploy: bool = False) -> list[str]:
    return [message.id for message in run_checks(include_deployment_checks=deploy) if message.id]


@pytest.mark.parametrize(
    "keys",
    [
        ["not-a-fernet-key"],
        [Fernet.generate_key().decode()[:-2]],  # cut short
        [base64.urlsafe_b64encode(b"16 bytes, not 32").decode()],
        [Fernet.generate_key().decode(), ""],  # a trailing comma
    ],
)
def test_a_malformed_encryption_key_fails_the_system_checks(keys: list[str]) -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=keys):
        messages = [m for m in run_checks() if m.id == "verity.E001"]

    assert len(messages) == 1
    assert messages[0].is_serious()
    assert f"entry {len(keys)} of {len(keys)}" in messages[0].msg


def test_malformed_keys_fail_manage_check() -> None:
    result = manage("check", **(PRODUCTION | {"FIELD_ENCRYPTION_KEYS": "bad,worse"}))

    assert result.returncode != 0
    assert result.stderr.count("verity.E001") == 2
    assert "bad" not in result.stderr.replace("verity.E001", "")


@override_settings(DEBUG=False, FIELD_ENCRYPTION_KEYS=[Fernet.generate_key().decode()])
def test_a_single_key_in_production_is_a_deploy_warning_only() -> None:
    assert "verity.W001" in check_ids(deploy=True)
    assert "verity.W001" not in check_ids()


def test_valid_keys_and_a_single_key_in_debug_pass_the_checks() -> None:
    key = Fernet.generate_key().decode()
    with override_settings(DEBUG=False, FIELD_ENCRYPTION_KEYS=[key, Fernet.generate_key().decode()]):
        assert not {"verity.E001", "verity.W001"} & set(check_ids(deploy=True))
    with override_settings(DEBUG=True, FIELD_ENCRYPTION_KEYS=[key]):
        assert not {"verity.E001", "verity.W001"} & set(check_ids(deploy=True))
    with override_settings(DEBUG=True, FIELD_ENCRYPTION_KEYS=[]):  # derived from SECRET_KEY
        assert not {"verity.E001", "verity.W001"} & set(check_ids(deploy=True))


def test_production_settings_refuse_to_start_without_a_secret_key() -> None:
    result = manage("check", **{k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"})

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.django_db
@override_settings(
    SECURE_SSL_REDIRECT=True,
    SECURE_HSTS_SECONDS=31_536_000,
    SECURE_HSTS_INCLUDE_SUBDOMAINS=True,
    SECURE_HSTS_PRELOAD=True,
)
def test_production_answers_redirect_to_https_and_carry_the_security_headers() -> None:
    client = Client()

    plain = client.get("/api/v1/customers")
    secure = client.get("/api/v1/customers", secure=True)

    assert plain.status_code == 301
    assert plain["Location"].startswith("https://")
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert secure["X-Content-Type-Options"] == "nosniff"
    assert secure["Referrer-Policy"] == "same-origin"
    assert secure["Cross-Origin-Opener-Policy"] == "same-origin"
    assert secure["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_pages_carry_a_content_security_policy_of_our_own_origin_only() -> None:
    client = Client()
    for url in ("/accounts/login/", "/api/v1/customers", "/admin/login/"):
        policy = client.get(url)["Content-Security-Policy"]
        assert "script-src 'self'" in policy, url
        assert "frame-ancestors 'none'" in policy, url
        assert "unsafe-inline" not in policy, url
    # Exempt: the Swagger UI page (drf-spectacular's CDN assets) and the machines' webhook endpoints.
    docs = client.get("/api/docs/")
    assert "Content-Security-Policy" not in docs
    # ... yet it loads nothing from elsewhere: Swagger UI's files are served locally (offline too).
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs.content.decode()
    assert "cdn." not in docs.content.decode()
    assert "Content-Security-Policy" not in client.post(
        "/webhooks/v1/sources/unknown/events", b"{}", content_type="application/json"
    )
    assert "Content-Security-Policy" not in client.post(
        "/webhooks/stripe", b"{}", content_type="application/json"
    )


@pytest.mark.django_db
def test_an_exempt_response_still_gets_a_report_only_policy_when_one_is_configured() -> None:
    # core.csp skips building the policies of an exempt response only when no report-only policy exists.
    report_only = {"DIRECTIVES": {"default-src": ["'self'"], "report-uri": "/csp-reports"}}
    with override_settings(CONTENT_SECURITY_POLICY_REPORT_ONLY=report_only):
        response = Client().post(
            "/webhooks/v1/sources/unknown/events", b"{}", content_type="application/json"
        )

    assert "Content-Security-Policy" not in response
    assert response["Content-Security-Policy-Report-Only"] == "default-src 'self'; report-uri /csp-reports"


def test_favicon_ico_points_at_the_portals_icon() -> None:
    response = Client().get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("portal/favicon.svg")


# Requests straight to the WSGI application, as gunicorn makes them (no proxy, no Django test client).
WSGI_GET = """
import json, sys
from wsgiref.util import setup_testing_defaults
from config.wsgi import application

def get(path, headers):
    environ = {"PATH_INFO": path, "HTTP_HOST": "verity.example.com", "HTTP_X_FORWARDED_PROTO": "https"}
    setup_testing_defaults(environ)
    answer = {}
    def start_response(status, response_headers, exc_info=None):
        answer.update(status=int(status.split()[0]), headers=dict(response_headers))
    answer["body"] = b"".join(application(environ | headers, start_response)).decode("utf-8", "replace")
    return answer

print(json.dumps([get(path, headers) for path, headers in json.loads(sys.argv[1])]))
"""


def test_with_debug_off_the_application_serves_the_portals_collected_static_files(tmp_path: Path) -> None:
    production = PRODUCTION | {
        "STATIC_ROOT": str(tmp_path / "static"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",  # the sign-in page reads no table
    }
    collected = manage("collectstatic", "--no-input", **production)
    assert collected.returncode == 0, collected.stderr
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())["paths"]
    stylesheet = f"/static/{manifest['portal/portal.css']}"
    source = (Path(settings.BASE_DIR) / "core" / "static" / "portal" / "portal.css").read_text()
    named = {
        name
        for template in (Path(settings.BASE_DIR) / "templates").rglob("*.html")
        for name in re.findall(r"{% static '([^']+)' %}", template.read_text())
    }

    requests = [
        ("/accounts/login/", {}),
        (stylesheet, {}),
        (stylesheet, {"HTTP_ACCEPT_ENCODING": "gzip"}),
        ("/static/portal/portal.css", {}),
    ]
    answers = python("-c", WSGI_GET, json.dumps(requests), **production)

    assert answers.returncode == 0, answers.stderr
    login, css, css_gzip, unhashed = json.loads(answers.stdout)
    assert login["status"] == 200
    assert f'href="{stylesheet}"' in login["body"]  # the page names the hashed file
    assert (css["status"], css["headers"]["Content-Type"]) == (200, 'text/css; charset="utf-8"')
    assert css["body"] == source
    assert css["headers"]["Cache-Control"] == "max-age=315360000, public, immutable"
    assert (css_gzip["status"], css_gzip["headers"]["Content-Encoding"]) == (200, "gzip")
    # The plain name still answers, but is not cached forever: its content changes with a release.
    assert unhashed["status"] == 200
    assert "immutable" not in unhashed["headers"]["Cache-Control"]
    # No page names a file that was not collected (with DEBUG off, that page would be a 500).
    assert "portal/portal.css" in named
    assert named - manifest.keys() == set()
