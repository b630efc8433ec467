"""The portal benchmark (`make bench-portal`): how long the vendor's and a customer's pages take over
large tables.

In one run, on one freshly created database (drop, create, migrate):

1. seed contracts and an outcome history with bulk SQL, as the verification benchmark does
   (bench.bulk, bench.verify.seed_history): every outcome belongs to the one bench vendor, spread
   over the last 60 days, so the dashboard's 60-day chart covers all of them; then rebuild the
   counters and aggregates the services would have kept (outcomes.counters.rebuild);
2. for each size (default 10^5 then 10^6 outcomes), request each page several times through
   Django's test client, signed in as an owner of the vendor (the whole view: middleware, form,
   queries, template), and keep the median;
3. the customer portal's pages the same way, signed in as a member of the bench customer: the customer
   of every tenth contract (CUSTOMER_EVERY), so it holds a tenth of the history (10^5 outcomes at 10^6),
   with its own amount cap on each of its contracts (CAP_AMOUNT_MINOR: the overview's meters);
4. beside them, the ceiling measured in the same run: the one keyset query a page of the outcome
   explorer cannot do without (the vendor's newest 51 outcome ids, `ORDER BY id DESC LIMIT 51`).

Goal: the outcome explorer (every filter, and a deep page), the customer portal's pages and the vendor
dashboard answer in under 200 ms at the largest size (10^6 outcomes). How each page grows from one size
to the next is printed beside it: a page reads a bounded number of rows (a keyset page, state counts
capped at 10,000 rows, the dashboards' maintained aggregates: rows per contract and day, or per
contract, version, type and share of the price), so what grows is the part of a filter's matches below
that cap. The other pages are reported, not held to a goal.
See docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.bulk import (
    VENDOR_SLUG,
    Server,
    add_database_arguments,
    django_setup,
    drop_database,
    execute,
    fetchall,
    log,
    machine,
    print_table,
    print_title,
    recreate_database,
    save_results,
    seed_contracts,
    sizes_of,
    vacuum_analyze,
)
from bench.verify import COUNTER_TABLES, policy_terms, rebuild_counters, seed_history

ROOT = Path(__file__).resolve().parent.parent
GOAL_MS = 200.0
REPEATS = 7
EXPLORER = "explorer"
CUSTOMER = "customer"  # a customer portal page, held to the goal like the explorer
DASHBOARD = "dashboard"  # the vendor's dashboard, held to the goal too (it reads maintained aggregates)
GOALS = (EXPLORER, CUSTOMER, DASHBOARD)
CUSTOMER_EVERY = 10  # the bench customer holds contracts 0, 10, 20, ...
CAP_AMOUNT_MINOR = 1_000_000  # the bench customer's own amount cap on each of its contracts (10,000.00)


def bench_customer() -> str:
    """Make the customer of contract 0 the customer of every CUSTOMER_EVERY-th contract (and of their
    webhook sources), idempotently, so one customer has a large history; returns its id."""
    [(customer_id,)] = fetchall("SELECT customer_id FROM bench_contracts WHERE n = 0")
    every = {"customer": customer_id, "every": CUSTOMER_EVERY}
    execute("UPDATE bench_contracts SET customer_id = %(customer)s WHERE n %% %(every)s = 0", every)
    execute(
        "UPDATE contracts_contract SET customer_id = %(customer)s WHERE id IN "
        "(SELECT contract_id FROM bench_contracts WHERE n %% %(every)s = 0)",
        every,
    )
    execute(
        "UPDATE contracts_webhooksource SET customer_id = %(customer)s WHERE id IN "
        "(SELECT customer_source FROM bench_contracts WHERE n %% %(every)s = 0 "
        "UNION ALL SELECT agent_source FROM bench_contracts WHERE n %% %(every)s = 0)",
        every,
    )
    return str(customer_id)


def bench_customer_caps(customer_id: str) -> None:
    """The bench customer's own amount cap (rule 11a) on each of its contracts' outcome type, so its
    overview prices what each current period bills against it; idempotently."""
    from django.utils import timezone

    from contracts.models import Contract, CustomerCap, OutcomeType

    for contract in Contract.objects.filter(customer_id=customer_id):
        for key in set(OutcomeType.objects.filter(version__contract=contract).values_list("key", flat=True)):
            CustomerCap.objects.get_or_create(
                contract=contract,
                outcome_type_key=key,
                defaults={"max_amount_minor": CAP_AMOUNT_MINOR, "set_by": "bench", "set_at": timezone.now()},
            )


def customer_pages(customer_id: str) -> list[tuple[str, str, str]]:
    """(name, kind, url) of the customer portal's pages measured, for the bench customer."""
    from contracts.models import Contract
    from outcomes.models import Outcome

    contract = Contract.objects.filter(customer_id=customer_id).order_by("reference").first()
    assert contract is not None
    newest = (
        Outcome.objects.filter(contract__customer_id=customer_id).order_by("-id").values_list("id", flat=True)
    )
    return [
        ("customer: overview", CUSTOMER, "/customer/"),
        ("customer: outcomes, first page", CUSTOMER, "/customer/outcomes/"),
        ("customer: outcomes, state billable", CUSTOMER, "/customer/outcomes/?state=billable"),
        (
            "customer: outcomes, contract + state",
            CUSTOMER,
            f"/customer/outcomes/?contract={contract.pk}&state=billed",
        ),
        ("customer: outcome trail", CUSTOMER, f"/customer/outcomes/{newest[0]}/"),
    ]


def pages(vendor_id: str) -> list[tuple[str, str, str]]:
    """(name, kind, url) of each vendor page measured; pages of a kind in GOALS are held to the goal."""
    from contracts.models import Contract
    from outcomes.models import Outcome

    contract = Contract.objects.filter(vendor_id=vendor_id).order_by("reference").first()
    assert contract is not None
    ids = Outcome.objects.filter(vendor_id=vendor_id).order_by("-id").values_list("id", flat=True)
    deep = ids[min(5000, ids.count() - 1)]
    week_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=7)).date().isoformat()
    return [
        ("explorer: first page", EXPLORER, "/outcomes/"),
        ("explorer: state billed", EXPLORER, "/outcomes/?state=billed"),
        ("explorer: state flagged (rare)", EXPLORER, "/outcomes/?state=flagged"),
        ("explorer: one contract", EXPLORER, f"/outcomes/?contract={contract.pk}"),
        ("explorer: contract + state", EXPLORER, f"/outcomes/?contract={contract.pk}&state=billable"),
        ("explorer: last 7 days", EXPLORER, f"/outcomes/?occurred_from={week_ago}"),
        ("explorer: search a natural key", EXPLORER, "/outcomes/?q=H-12345"),
        ("explorer: 100 pages deep", EXPLORER, f"/outcomes/?before={deep}"),
        ("outcome trail", "page", f"/outcomes/{ids[0]}/"),
        ("review queue", "page", "/review/"),
        ("invoices", "page", "/invoices/"),
        ("dashboard", DASHBOARD, "/"),
    ]


def measure_size(size: int, *, seeded: int, contracts: int, repeats: int = REPEATS) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from contracts.models import CustomerMembership, CustomerRole, Membership, Role, Vendor

    now = timezone.now()
    log(f"history {size:,}: seeding {size - seeded:,} outcomes")
    seed_history(seeded, size, contracts=contracts, now=now)
    rebuild_counters()  # bulk SQL wrote behind the services: the counters and aggregates as they keep them
    vacuum_analyze("outcomes_outcome", "outcomes_rawevent", "outcomes_outcomeevent", *COUNTER_TABLES)
    vendor = Vendor.objects.get(slug=VENDOR_SLUG)
    user, _ = get_user_model().objects.get_or_create(username="owner@bench.test")
    Membership.objects.get_or_create(user=user, vendor=vendor, defaults={"role": Role.OWNER})
    client = Client()
    client.force_login(user)
    customer_id = bench_customer()
    bench_customer_caps(customer_id)
    member, _ = get_user_model().objects.get_or_create(username="member@bench.test")
    CustomerMembership.objects.get_or_create(
        user=member, customer_id=customer_id, defaults={"role": CustomerRole.VIEWER}
    )
    customer_client = Client()
    customer_client.force_login(member)

    results = []
    measured = [(client, page) for page in pages(str(vendor.pk))]
    measured += [(customer_client, page) for page in customer_pages(customer_id)]
    for signed_in, (name, kind, url) in measured:
        signed_in.get(url, secure=True)  # warm: the first request of a page compiles its templates
        times = []
        for _ in range(repeats):
            began = time.perf_counter()
            response = signed_in.get(url, secure=True)  # production settings: HTTPS only
            times.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        results.append({"name": name, "kind": kind, "url": url, "ms": statistics.median(times)})
    ceiling = []
    for _ in range(repeats):
        began = time.perf_counter()
        fetchall(
            "SELECT id FROM outcomes_outcome WHERE vendor_id = %s ORDER BY id DESC LIMIT 51", [str(vendor.pk)]
        )
        ceiling.append((time.perf_counter() - began) * 1000)
    log(f"history {size:,}: {len(results)} pages measured")
    return {
        "outcomes": size,
        "vendor": str(vendor.pk),
        "customer": customer_id,
        "pages": results,
        "ceiling_ms": statistics.median(ceiling),
    }


def build_report(results: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    rows = []
    first = results[0]
    for index, page in enumerate(first["pages"]):
        cells = [page["name"]]
        for result in results:
            cells.append(f"{result['pages'][index]['ms']:,.1f}")
        last = results[-1]["pages"][index]["ms"]
        growth = last / page["ms"] if page["ms"] else 0.0
        cells.append(f"{growth:.2f}")
        cells.append(f"{last / results[-1]['ceiling_ms']:,.0f} x")
        if page["kind"] in GOALS:
            cells.append("PASS" if last < GOAL_MS else "FAIL")
        else:
            cells.append("")
        rows.append(tuple(cells))
    rows.append(
        (
            "ceiling: newest 51 ids (SQL)",
            *(f"{result['ceiling_ms']:,.2f}" for result in results),
            "",
            "1 x",
            "",
        )
    )
    return rows


def passed(results: list[dict[str, Any]]) -> bool:
    return all(row[-1] != "FAIL" for row in build_report(results))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000", help="history sizes, ascending (100000,1000000)")
    parser.add_argument("--contracts", type=int, default=200, help="contracts the outcomes spread over")
    add_database_arguments(parser, name="portal")
    args = parser.parse_args(argv)
    sizes = sizes_of(args.sizes)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    server = Server.from_url(args.server_url)
    log(f"database {args.db_name}: drop, create, migrate")
    recreate_database(server, args.db_name)
    # Production settings: the pages name the collected, hashed static files, so collect them first.
    os.environ["STATIC_ROOT"] = static_root = tempfile.mkdtemp(prefix="verity-bench-static-")
    try:
        django_setup(server, args.db_name)
        from django.core.management import call_command
        from django.db import connection

        call_command("collectstatic", "--no-input", verbosity=0)
        from django.utils import timezone

        seed_contracts(
            args.contracts,
            starts_at=timezone.now() - dt.timedelta(days=365),
            outcome_types=policy_terms(),
        )
        results, seeded = [], 0
        for size in sizes:
            results.append(measure_size(size, seeded=seeded, contracts=args.contracts))
            seeded = size
        info = machine()
        connection.close()
    finally:
        shutil.rmtree(static_root, ignore_errors=True)
        if not args.keep_db:
            drop_database(server, args.db_name)

    save_results(args, info, results=results)
    print_title("portal benchmark", info)
    print(  # noqa: T201
        f"{args.contracts} contracts of one vendor, outcomes over the last 60 days; median of {REPEATS} "
        "requests through Django's test client, signed in as an owner (customer pages: as a member of the "
        f"customer of every {CUSTOMER_EVERY}th contract). Ceiling: the explorer's keyset query."
    )
    print_table(
        build_report(results),
        (
            "page",
            *(f"ms at {size:,}" for size in sizes),
            "growth",
            "vs ceiling",
            f"explorer, customer, dashboard < {GOAL_MS:.0f} ms",
        ),
        markdown=args.markdown,
    )
    return 0 if passed(results) else 1


if __name__ == "__main__":
    sys.exit(main())
