"""Production settings: `manage.py check --deploy` is clean, and the security headers are sent."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.test import Client, override_settings

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": Fernet.generate_key().decode() + Fernet.generate_key().decode(),
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "verity.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://verity.example.com",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # Not what this test process set for itself (browser tests allow async-unsafe calls, for one).
    inherited = ("DEBUG", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    environment = {k: v for k, v in os.environ.items() if k not in inherited}
    return subprocess.run(  # noqa: S603 (our own interpreter and manage.py)
        [sys.executable, "manage.py", *args],
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


def test_favicon_ico_points_at_the_portals_icon() -> None:
    response = Client().get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("portal/favicon.svg")
