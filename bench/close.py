"""The settlement close benchmark (`make bench-close`): rating a period's outcomes into draft invoices,
then pushing invoices to the local Stripe-compatible server.

In one run, on one freshly created database (drop, create, migrate):

1. seed 10,000 active contracts with bulk SQL (bench.bulk), half priced per unit, half on graduated
   tiers with free units, all in UTC with monthly periods;
2. for each size (default 10^4, 10^5, 10^6), replace the outcomes with that many billable ones
   (bulk SQL) spread evenly over the contracts, all billable inside the last full month (5% billed
   as unverified at 50%);
3. time settlement.invoicing.close.periods_close for every contract and that month, the way the
   bulk close runs it (the beat sweep's close_periods jobs, manage.py close_periods --all-due): in
   batches of contracts (200 by default, one transaction each), on a pool of worker processes (2 by
   default, like two Celery worker processes on this 2-core machine); then the ceiling over the same
   rows: one SQL GROUP BY aggregate of what the invoices bill;
4. finalize 1,000 of the drafts the way the beat job does (invoices_finalize, in batches of 200
   invoices per transaction by default) on the same pool, timed per invoice;
5. give their customers a Stripe customer with a test card as its default (as Stripe's test mode
   does), then push the invoices to the local Stripe-compatible server (devtools.stripe_server) with
   settlement.stripe_gateway.invoice_push on the same pool, counting the requests the server received.

Then print the time, outcomes/s and cost per outcome at each size beside the ceiling, the finalize
time per invoice, the invoices/s of the push and its Stripe calls per invoice. Goals: 10^6 outcomes
rated in under 60 s; the cost per outcome at 10^6 no more than 1.2 x the cost at 10^4; finalizing
within 5 ms per invoice; at most 4 Stripe calls per invoice (customers apart). See docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.bulk import (
    OUTCOME_TYPE,
    Server,
    Timer,
    add_database_arguments,
    chunks,
    counted_queries,
    cpu_cell,
    django_setup,
    drop_database,
    execute,
    fetchall,
    indexes_deferred,
    log,
    machine,
    print_table,
    print_title,
    recreate_database,
    run_parallel,
    save_results,
    seed_contracts,
    sizes_of,
    vacuum_analyze,
)

ROOT = Path(__file__).resolve().parent.parent
GOAL_SECONDS_AT_MILLION = 60.0
GOAL_COST_RATIO = 1.2
GOAL_FINALIZE_MS = 5.0  # per invoice
GOAL_STRIPE_CALLS = 4  # per invoice, customer creations apart
STRIPE_KEY = "sk_test_verity_bench"
TEST_CARD = "pm_card_visa"
# A Stripe id in a request path (`in_1Pq…`, `cus_…`): a prefix, then random letters and digits.
STRIPE_ID = re.compile(r"/[a-z]{2,6}_(?=[A-Za-z0-9]*[A-Z0-9])[A-Za-z0-9]{8,}(?=/|$)")

PRICINGS: list[dict[str, Any]] = [
    {"pricing": {"model": "per_unit", "unit_price": "0.90"}},
    {
        "pricing": {
            "model": "graduated",
            "tiers": [
                {"up_to": 50, "unit_price": "1.00"},
                {"up_to": 500, "unit_price": "0.75"},
                {"up_to": None, "unit_price": "0.505"},
            ],
        },
        "free_units": 10,
    },
]


def last_full_month(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    end = now.astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (end - dt.timedelta(days=1)).replace(day=1)
    return start, end


# --- seeding -------------------------------------------------------------------------------


def reset_period() -> None:
    """Remove every invoice and outcome (the contracts stay)."""
    execute(
        "TRUNCATE settlement_lineoutcome, settlement_invoiceline, settlement_settlementstep, "
        "settlement_creditentry, settlement_invoice, settlement_invoicecounter, "
        "outcomes_outcometransition, outcomes_outcome CASCADE"
    )


def seed_billable(count: int, *, contracts: int, period: tuple[dt.datetime, dt.datetime]) -> None:
    """`count` billable, never-billed outcomes: outcome g belongs to contract g % contracts, occurred and
    became billable inside the period; one in twenty of each contract's is billed as unverified at 50%."""
    start, end = period
    span = int((end - start).total_seconds()) - 2 * 86400
    execute(
        """
        INSERT INTO outcomes_outcome
            (vendor_id, contract_id, outcome_type_key, natural_key, parent_key, state, occurred_at,
             confirmed_at, value_minor, version_id, price_percent, hold_until, billable_at, billed_at,
             source_id, evaluated_at, created_at, updated_at)
        SELECT bc.vendor_id, bc.contract_id, %(type)s, 'C-' || g, '', 'billable', s.occurred_at,
               s.occurred_at + interval '5 minutes', NULL, bc.version_id,
               CASE WHEN (g / %(contracts)s) %% 20 = 7 THEN 50 ELSE 100 END, NULL,
               s.occurred_at + interval '1 day', NULL, bc.customer_source,
               s.occurred_at + interval '1 day', s.occurred_at + interval '1 minute',
               s.occurred_at + interval '1 day'
        FROM generate_series(0::bigint, %(count)s::bigint - 1) AS g
        JOIN bench_contracts bc ON bc.n = g %% %(contracts)s
        CROSS JOIN LATERAL (
            SELECT %(start)s::timestamptz + ((g * 7919) %% %(span)s) * interval '1 second' AS occurred_at
        ) AS s
        """,
        {"type": OUTCOME_TYPE, "count": count, "contracts": contracts, "start": start, "span": span},
    )


def contract_ids() -> list[str]:
    return [str(row[0]) for row in fetchall("SELECT contract_id FROM bench_contracts ORDER BY n")]


# --- the work, run in worker processes -----------------------------------------------------


def close_contracts(
    ids: Sequence[str],
    period_start: dt.datetime,
    now: dt.datetime,
    batch_size: int,
    synchronous_commit: str = "on",
) -> tuple[int, int]:
    """periods_close over the contracts, `batch_size` at a time; returns (invoices, queries)."""
    from settlement.invoicing.close import periods_close

    if synchronous_commit != "on":  # an experiment (--synchronous-commit): what each commit's flush costs
        execute(f"SET synchronous_commit TO {synchronous_commit}")
    with counted_queries() as queries:
        for batch in chunks(ids, batch_size):
            periods_close(periods=[(contract_id, period_start) for contract_id in batch], now=now)
    return len(ids), queries[0]


def finalize_invoices(ids: Sequence[int], now: dt.datetime, batch_size: int) -> tuple[int, int]:
    """invoices_finalize over the invoices, `batch_size` at a time; returns (invoices, queries)."""
    from settlement.invoicing.finalize import invoices_finalize

    with counted_queries() as queries:
        for batch in chunks(ids, batch_size):
            invoices_finalize(invoice_ids=list(batch), now=now)
    return len(ids), queries[0]


def push_invoices(ids: Sequence[int]) -> tuple[int, int]:
    from settlement.stripe_gateway import invoice_push

    with counted_queries() as queries:
        for invoice_id in ids:
            invoice_push(invoice_id=invoice_id)
    return len(ids), queries[0]


# --- measuring -----------------------------------------------------------------------------


def ceiling(period: tuple[dt.datetime, dt.datetime]) -> dict[str, Any]:
    """One GROUP BY over the same rows: what each contract's draft bills, per version, type and rate."""
    with Timer() as timer:
        rows = fetchall(
            """
            SELECT contract_id, version_id, outcome_type_key, price_percent, count(*), min(billable_at)
            FROM outcomes_outcome
            WHERE state = 'billable' AND billed_at IS NULL AND billable_at < %s
            GROUP BY contract_id, version_id, outcome_type_key, price_percent
            """,
            [period[1]],
        )
    return {"elapsed": timer.elapsed, "groups": len(rows), "outcomes": sum(row[4] for row in rows)}


def stored(period_start: dt.datetime) -> dict[str, int]:
    row = fetchall(
        """
        SELECT (SELECT count(*) FROM settlement_invoice WHERE period_start = %(start)s),
               (SELECT count(*) FROM settlement_invoiceline l
                  JOIN settlement_invoice i ON i.id = l.invoice_id WHERE i.period_start = %(start)s),
               (SELECT count(*) FROM settlement_lineoutcome lo
                  JOIN settlement_invoiceline l ON l.id = lo.line_id
                  JOIN settlement_invoice i ON i.id = l.invoice_id
                 WHERE i.period_start = %(start)s AND l.kind = 'usage'),
               (SELECT count(DISTINCT lo.outcome_id) FROM settlement_lineoutcome lo)
        """,
        {"start": period_start},
    )[0]
    return {"invoices": row[0], "lines": row[1], "line_outcomes": row[2], "distinct_outcomes": row[3]}


def measure_size(
    size: int,
    *,
    contracts: Sequence[str],
    period: tuple[dt.datetime, dt.datetime],
    now: dt.datetime,
    workers: int,
    batch_size: int | None = None,
    maintenance: bool = True,
    synchronous_commit: str = "on",
) -> dict[str, Any]:
    """Replace the outcomes with `size` billable ones, close every contract's period, then the ceiling.

    `maintenance`: load with indexes deferred, then VACUUM ANALYZE; off inside a test's transaction.
    `batch_size`: contracts per periods_close (default: the bulk close's, CLOSE_BATCH)."""
    from settlement.invoicing.close import CLOSE_BATCH

    batch_size = batch_size or CLOSE_BATCH
    reset_period()
    with Timer() as seeding:
        with indexes_deferred(["outcomes_outcome"], enabled=maintenance):
            seed_billable(size, contracts=len(contracts), period=period)
        if maintenance:
            vacuum_analyze("outcomes_outcome", "settlement_invoice")
    log(f"{size:,} billable outcomes seeded in {seeding.elapsed:.1f} s; closing {len(contracts):,} contracts")
    invoices, queries, timer = run_parallel(
        close_contracts, contracts, workers, period[0], now, batch_size, synchronous_commit, chunk=batch_size
    )
    counts = stored(period[0])
    log(f"{size:,}: closed in {timer.elapsed:.1f} s; ceiling")
    if maintenance:
        vacuum_analyze("outcomes_outcome")
    return {
        "outcomes": size,
        "contracts": len(contracts),
        "batch_size": batch_size,
        "seed_seconds": seeding.elapsed,
        "elapsed": timer.elapsed,
        "cpu": timer.cpu,
        "cpu_cell": cpu_cell(timer),
        "invoices": invoices,
        "queries": queries,
        "stored": counts,
        "ceiling": ceiling(period),
    }


def customers_with_cards(ids: Sequence[int], base_url: str) -> int:
    """Give the invoices' customers a Stripe customer with a test card as its default, the way Stripe's
    test mode does it (`payment_method` attached at creation, then made the invoices' default), and link
    them, as tests/support/stripe.card_on_file does: the push then measures settlement, not
    declines. Returns the customers created."""
    import stripe

    customers = fetchall(
        """
        SELECT DISTINCT c.id, c.billing_email, c.name
        FROM settlement_invoice i
        JOIN contracts_contract k ON k.id = i.contract_id
        JOIN contracts_customer c ON c.id = k.customer_id
        WHERE i.id = ANY(%s) AND c.stripe_customer_id = ''
        ORDER BY c.id
        """,
        [list(ids)],
    )
    api = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": base_url})
    stripe_ids = [
        api.v1.customers.create(
            params={
                "email": email,
                "name": name,
                "payment_method": TEST_CARD,
                "invoice_settings": {"default_payment_method": TEST_CARD},
            }
        ).id
        for _, email, name in customers
    ]
    execute(
        "UPDATE contracts_customer AS c SET stripe_customer_id = v.stripe_id "
        "FROM unnest(%s::uuid[], %s::text[]) AS v(id, stripe_id) WHERE c.id = v.id",
        [[row[0] for row in customers], stripe_ids],
    )
    return len(customers)


def stripe_calls(requests: Sequence[dict[str, Any]], since: float) -> Counter[str]:
    """The requests the server received from `since` on, per method and path with ids as `{id}`."""
    return Counter(
        f"{request['method']} {STRIPE_ID.sub('/{id}', request['path'])}"
        for request in requests
        if request["at"] >= since
    )


def measure_push(
    count: int,
    *,
    period_start: dt.datetime,
    now: dt.datetime,
    workers: int,
    finalize_batch_size: int | None = None,
    maintenance: bool = True,
) -> dict[str, Any]:
    """Finalize `count` drafts of the period, `finalize_batch_size` per transaction (default: the beat
    job's, FINALIZE_BATCH), then push them to a local Stripe-compatible server, counting its requests."""
    from django.conf import settings

    from devtools.stripe_server import running_server
    from settlement.invoicing.finalize import FINALIZE_BATCH

    batch_size = finalize_batch_size or FINALIZE_BATCH
    ids = [
        row[0]
        for row in fetchall(
            "SELECT id FROM settlement_invoice WHERE period_start = %s AND status = 'draft' ORDER BY id LIMIT %s",
            [period_start, count],
        )
    ]
    _, finalize_queries, finalizing = run_parallel(
        finalize_invoices, ids, workers, now, batch_size, chunk=batch_size
    )
    if maintenance:
        vacuum_analyze("settlement_invoice", "outcomes_outcome")
    log(f"{len(ids):,} invoices finalized in {finalizing.elapsed:.1f} s; pushing to the local Stripe server")
    previous = settings.STRIPE_API_KEY, settings.STRIPE_API_BASE
    with running_server() as server:
        settings.STRIPE_API_KEY, settings.STRIPE_API_BASE = STRIPE_KEY, server.base_url
        try:
            customers = customers_with_cards(ids, server.base_url)
            since = time.time()
            pushed, queries, pushing = run_parallel(push_invoices, ids, workers)
        finally:
            settings.STRIPE_API_KEY, settings.STRIPE_API_BASE = previous
        requests = server.admin.requests()
    # The server keeps its last 10,000-20,000 requests: the customers' creations come first, so while
    # they are still there, every request of the push is too.
    complete = not requests or requests[0]["at"] < since
    calls = stripe_calls(requests, since)
    statuses = dict(
        fetchall("SELECT status, count(*) FROM settlement_invoice WHERE id = ANY(%s) GROUP BY status", [ids])
    )
    return {
        "invoices": len(ids),
        "finalize_batch_size": batch_size,
        "finalize_seconds": finalizing.elapsed,
        "finalize_cpu": cpu_cell(finalizing),
        "finalize_queries": finalize_queries,
        "push_seconds": pushing.elapsed,
        "push_cpu": cpu_cell(pushing),
        "pushed": pushed,
        "queries": queries,
        "statuses": statuses,
        "customers_created": customers,
        "stripe_calls": dict(calls),
        "stripe_calls_complete": complete,
        "customer_calls": calls.get("POST /v1/customers", 0),
        "invoice_calls": sum(calls.values()) - calls.get("POST /v1/customers", 0),
    }


# --- the report ----------------------------------------------------------------------------


def build_report(results: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    first = results[0]["elapsed"] / results[0]["outcomes"] if results else 0.0
    for result in results:
        cost = result["elapsed"] / result["outcomes"]
        ceiling_rate = result["ceiling"]["outcomes"] / result["ceiling"]["elapsed"]
        rate = result["outcomes"] / result["elapsed"]
        time_goal = ""
        if result["outcomes"] >= 1_000_000:
            time_goal = "PASS" if result["elapsed"] < GOAL_SECONDS_AT_MILLION else "FAIL"
        rows.append(
            (
                f"{result['outcomes']:,}",
                f"{result['invoices']:,}",
                f"{result['elapsed']:.1f} s",
                f"{rate:,.0f}",
                f"{cost * 1e6:,.1f}",
                f"{cost / first:.2f}" + (f" ({'PASS' if cost / first <= GOAL_COST_RATIO else 'FAIL'})"),
                f"{result['queries'] / result['invoices']:.1f}",
                f"{result['ceiling']['elapsed'] * 1000:,.0f} ms ({ceiling_rate:,.0f}/s)",
                f"{rate / ceiling_rate:.4f}",
                time_goal,
                result["cpu_cell"],
            )
        )
    return rows


def marginal(results: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for before, after in itertools.pairwise(results):
        extra = after["outcomes"] - before["outcomes"]
        rows.append(
            (
                f"{before['outcomes']:,} -> {after['outcomes']:,}",
                f"{(after['elapsed'] - before['elapsed']) / extra * 1e6:,.1f} µs",
            )
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000", help="billable outcomes per run")
    parser.add_argument("--contracts", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument(
        "--batch-size",
        type=int,
        help="contracts closed per transaction (default: the bulk close's, 200; 1: one by one)",
    )
    parser.add_argument("--push", type=int, default=1000, help="invoices to finalize and push (0: none)")
    parser.add_argument(
        "--finalize-batch-size",
        type=int,
        help="invoices finalized per transaction (default: the beat job's, 200; 1: one by one)",
    )
    parser.add_argument(
        "--synchronous-commit",
        choices=["on", "off"],
        default="on",
        help="an experiment: the closing sessions' synchronous_commit (default on, as in production)",
    )
    add_database_arguments(parser, name="close")
    args = parser.parse_args(argv)
    sizes = sizes_of(args.sizes)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    server = Server.from_url(args.server_url)
    log(f"database {args.db_name}: drop, create, migrate")
    recreate_database(server, args.db_name)
    try:
        django_setup(server, args.db_name)
        from django.db import connections
        from django.utils import timezone

        now = timezone.now()
        period = last_full_month(now)
        with Timer() as setup:
            seed_contracts(
                args.contracts, starts_at=period[0] - dt.timedelta(days=365), outcome_types=PRICINGS
            )
        log(f"{args.contracts:,} contracts in {setup.elapsed:.1f} s; period {period[0]:%Y-%m-%d}")
        ids = contract_ids()
        results = [
            measure_size(
                size,
                contracts=ids,
                period=period,
                now=now,
                workers=args.workers,
                batch_size=args.batch_size,
                synchronous_commit=args.synchronous_commit,
            )
            for size in sizes
        ]
        push = (
            measure_push(
                args.push,
                period_start=period[0],
                now=now,
                workers=args.workers,
                finalize_batch_size=args.finalize_batch_size,
            )
            if args.push
            else None
        )
        info = machine()
        connections.close_all()
    finally:
        if not args.keep_db:
            drop_database(server, args.db_name)

    save_results(args, info, results=results, push=push)
    print_title("settlement close benchmark", info)
    print(  # noqa: T201
        f"{args.contracts:,} contracts, period {period[0]:%Y-%m-%d} to {period[1]:%Y-%m-%d}, "
        f"periods_close in batches of {results[0]['batch_size'] if results else '-'} contracts on {args.workers} worker process(es); "
        "Stripe excluded. "
        "Ceiling: one GROUP BY over the same rows."
    )
    report = build_report(results)
    print_table(
        report,
        (
            "outcomes",
            "invoices",
            "time",
            "outcomes/s",
            "µs/outcome",
            f"cost vs first (<= {GOAL_COST_RATIO})",
            "queries/invoice",
            "ceiling",
            "ratio",
            f"< {GOAL_SECONDS_AT_MILLION:.0f} s at 10^6",
            "CPU bench / postgres / other",
        ),
        args.markdown,
    )
    print("\nMarginal cost of one more outcome (time difference / outcome difference):")  # noqa: T201
    print_table(marginal(results), ("sizes", "µs/outcome"), args.markdown)
    print("\nStored per size (invoices, lines, outcomes linked to usage lines):")  # noqa: T201
    print_table(
        [
            (
                f"{r['outcomes']:,}",
                f"{r['stored']['invoices']:,}",
                f"{r['stored']['lines']:,}",
                f"{r['stored']['line_outcomes']:,}",
                "PASS" if r["stored"]["line_outcomes"] == r["outcomes"] else "FAIL",
            )
            for r in results
        ],
        ("outcomes", "invoices", "lines", "line outcomes", "every outcome billed once"),
        args.markdown,
    )
    ok = all("FAIL" not in " ".join(row) for row in report)
    if push is not None:
        ok = print_push(push, workers=args.workers, markdown=args.markdown) and ok
    return 0 if ok else 1


def print_push(push: dict[str, Any], *, workers: int, markdown: bool) -> bool:
    """The finalize and push figures against their goals; whether they were met."""
    invoices = push["invoices"]
    finalize_ms = push["finalize_seconds"] / invoices * 1000
    finalize_ok = finalize_ms <= GOAL_FINALIZE_MS
    print(  # noqa: T201
        f"\nFinalize: {invoices:,} invoices in batches of {push['finalize_batch_size']} on {workers} worker "
        f"process(es) in {push['finalize_seconds']:.2f} s = {finalize_ms:.2f} ms per invoice "
        f"(<= {GOAL_FINALIZE_MS:.0f} ms: {'PASS' if finalize_ok else 'FAIL'}), "
        f"{push['finalize_queries'] / invoices:.2f} queries per invoice (CPU {push['finalize_cpu']})"
    )
    rate = push["pushed"] / push["push_seconds"]
    per_invoice = push["invoice_calls"] / invoices
    calls_ok = per_invoice <= GOAL_STRIPE_CALLS and push["stripe_calls_complete"]
    print(  # noqa: T201
        f"Stripe push: {invoices:,} invoices pushed in {push['push_seconds']:.1f} s = {rate:,.1f} invoices/s "
        f"(CPU {push['push_cpu']}); statuses: {push['statuses']}\n"
        f"Stripe calls per invoice: {per_invoice:.2f} ({push['invoice_calls']:,} calls, "
        f"{push['invoice_calls'] / push['push_seconds']:,.0f} calls/s; <= {GOAL_STRIPE_CALLS}: "
        f"{'PASS' if calls_ok else 'FAIL'}{'' if push['stripe_calls_complete'] else ', the server dropped some'}); "
        f"customers apart: {push['customers_created']:,} created with a card before the push, "
        f"{push['customer_calls']:,} during it"
    )
    print_table(
        [
            (request, f"{calls:,}", f"{calls / invoices:.2f}")
            for request, calls in sorted(push["stripe_calls"].items(), key=lambda item: (-item[1], item[0]))
        ],
        ("request (during the push)", "calls", "per invoice"),
        markdown,
    )
    return finalize_ok and calls_ok and push["statuses"] == {"paid": invoices}


if __name__ == "__main__":
    sys.exit(main())
