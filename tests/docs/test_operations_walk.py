"""docs/operations.md's walk from an empty database to a first event works as written: its code blocks
run in bash, against a live server on the test database, and end with the event stored as an outcome."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from pytest_django.live_server_helper import LiveServer

from contracts.models import ApiKey, Contract, ContractStatus, Customer, Membership, Role, WebhookSource
from outcomes.models import Outcome

pytestmark = pytest.mark.django_db(transaction=True)  # the live server and the commands see committed rows

OPERATIONS = Path(settings.BASE_DIR) / "docs" / "operations.md"
SECTION = "### The first vendor, from an empty database to its first event"
DOCUMENTED_URL = "https://verity.example.com"


def walk_blocks() -> list[str]:
    """The section's ```sh blocks, in order."""
    after = OPERATIONS.read_text().split(f"{SECTION}\n", 1)[1]
    section = re.split(r"^#{2,3} ", after, maxsplit=1, flags=re.MULTILINE)[0]
    return re.findall(r"^```sh\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)


def run_walk(base_url: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    environment = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # `python` is ours
        "HOME": str(workdir),
        "DEBUG": "true",
        "DATABASE_URL": f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        # No broker: what the commands enqueue (nothing, here) would run in-process.
    }
    script = "\n".join(walk_blocks()).replace(DOCUMENTED_URL, base_url)
    return subprocess.run(  # noqa: S603 (bash running our own documentation)
        ["/bin/bash", "-euo", "pipefail", "-c", script],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_the_walk_has_every_step_in_order() -> None:
    script = "\n".join(walk_blocks())

    steps = [
        "manage.py migrate",
        "manage.py create_vendor",
        "manage.py create_api_key",
        "/api/v1/customers",
        "/api/v1/contracts",
        "/activate",
        "/api/v1/webhook-sources",
        "/webhooks/v1/sources/",
        "/api/v1/outcomes",
    ]
    assert [step for step in steps if step in script] == steps
    assert sorted(steps, key=script.index) == steps


def test_the_documented_walk_takes_an_empty_deployment_to_its_first_outcome(
    live_server: LiveServer, tmp_path: Path
) -> None:
    walked = run_walk(live_server.url, tmp_path)

    assert walked.returncode == 0, walked.stdout + walked.stderr
    membership = Membership.objects.select_related("vendor", "user").get()
    assert (membership.vendor.slug, membership.role, membership.user.email) == (
        "acme",
        Role.OWNER,
        "owner@acme.example",
    )
    assert not membership.user.is_staff
    vendor = membership.vendor
    assert ApiKey.objects.get(vendor=vendor).name == "setup"
    assert Customer.objects.get(vendor=vendor).external_ref == "globex"
    assert Contract.objects.get(vendor=vendor).status == ContractStatus.ACTIVE
    assert WebhookSource.objects.get(vendor=vendor).name == "Globex helpdesk"
    outcome = Outcome.objects.get(vendor=vendor)
    assert (outcome.natural_key, outcome.outcome_type_key) == ("T-1001", "ticket.resolved")
    assert "active" in walked.stdout.splitlines()
    assert f'{{"natural_key":"T-1001","state":"{outcome.state}"}}' in walked.stdout.splitlines()

    # The owner's steps in between: the printed link, a password, the portal.
    (link,) = [line for line in walked.stdout.splitlines() if line.startswith(f"{live_server.url}/")]
    owner = Client()
    form = owner.get(link.removeprefix(live_server.url), follow=True)
    chosen = owner.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-long-new-pass-2026", "new_password2": "a-long-new-pass-2026"},
    )
    signed_in = owner.post(
        "/accounts/login/", {"username": "owner@acme.example", "password": "a-long-new-pass-2026"}
    )
    outcomes_page = owner.get(f"/outcomes/{outcome.pk}/")
    assert chosen.status_code == 302
    assert signed_in.status_code == 302
    assert get_user_model().objects.get(email="owner@acme.example").has_usable_password()
    assert outcomes_page.status_code == 200
    assert b"T-1001" in outcomes_page.content
