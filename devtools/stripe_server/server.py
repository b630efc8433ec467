"""HTTP front of the local Stripe server: auth, routing, idempotency keys, faults and the /__admin API.

Hand-written on the stdlib's ThreadingHTTPServer: stripe-mock is stateless and localstripe has neither Stripe's
idempotency-key semantics nor fault injection, and those are what Verity's settlement tests need.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import taxes
from .accounts import API_KEY, Account, Accounts, masked
from .clock import ServerClock
from .errors import API_ERROR, IDEMPOTENCY_ERROR, INVALID_REQUEST, ApiError
from .faults import FaultRule, FaultSet
from .forms import FormError, parse_form
from .invoicing_routes import invoicing_routes
from .objects import from_shape
from .params import Params
from .state import JSON, RequestContext, Store, new_id
from .webhooks import WebhookDispatcher

DEFAULT_API_VERSION = "2026-10-28.endive"  # what stripe-python 16.x pins; used when a request sends none
_ID = r"(?P<object_id>[A-Za-z0-9_]+)"
_ITEM = r"(?P<item_id>[A-Za-z0-9_]+)"
# Stripe may prune a key once it is 24 hours old; a key used again after that is a new request.
IDEMPOTENCY_KEY_LIFETIME = 24 * 3600

Handler = Callable[..., JSON]


@dataclass
class Scope:
    """Who a request is: its API key, the key's account, and the account it acts on (`Stripe-Account`)."""

    api_key: str
    key_account: Account
    account: Account

    @property
    def store(self) -> Store:
        return self.account.store


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    mutating: bool


@dataclass
class _IdempotencyEntry:
    method: str
    path: str
    params: dict[str, Any]
    request_id: str
    created: float  # server clock
    done: bool = False
    status: int = 0
    body: bytes = b""


@dataclass
class _Outcome:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


class StripeServer:
    """A stateful, Stripe-compatible API server for customers, invoices and invoice items (see README.md)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_keys: list[str] | None = None,
        seed: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = ServerClock()
        self.webhooks = WebhookDispatcher()
        self.event_log: list[JSON] = []  # every account's events, in emission order
        self.accounts = Accounts(self.clock, self._wire)
        self.faults = FaultSet(seed)
        self.api_keys = set(api_keys) if api_keys else None
        self.verbose = verbose
        # (the key's account, the account acted on, Idempotency-Key) -> entry
        self._idempotency: dict[tuple[str, str, str], _IdempotencyEntry] = {}
        self.request_log: list[JSON] = []
        self._stopping = threading.Event()
        self._routes = self._build_routes()
        self.httpd = _HTTPServer((host, port), _RequestHandler)
        self.httpd.app = self
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> StripeServer:
        """Serve on a background thread."""
        self.webhooks.start()
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="stripe-server", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.webhooks.start()
        try:
            self.httpd.serve_forever()
        finally:
            self.stop()

    def stop(self) -> None:
        self._stopping.set()  # wakes requests held by "timeout" faults
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self.httpd.server_close()
        self.webhooks.stop()

    def _wire(self, account: Account) -> None:
        def emitted(event: JSON) -> int:
            self.event_log.append(event)
            platform = self.accounts.get(account.platform) if account.platform is not None else None
            return self.webhooks.submit(event, account, platform)

        account.store.event_sink = emitted

    def reset(self) -> None:
        with self.lock:
            self.clock.reset()
            self.webhooks.reset()
            self.event_log = []
            self.accounts = Accounts(self.clock, self._wire)
            self.faults.clear()
            self._idempotency.clear()
            self.request_log.clear()

    # ------------------------------------------------------------------ routes

    def _build_routes(self) -> list[_Route]:
        def route(method: str, path: str, handler: Handler) -> _Route:
            # Only POST takes an Idempotency-Key (GET and DELETE are idempotent by nature, Stripe ignores it there).
            return _Route(method, re.compile(f"^{path}$"), handler, method == "POST")

        s = self
        return [
            route("POST", "/v1/customers", lambda r, p, c: r.store.create_customer(p, c)),
            route(
                "GET", f"/v1/customers/{_ID}", lambda r, p, c, object_id: r.store.get_customer(object_id, p)
            ),
            route("POST", "/v1/invoices", lambda r, p, c: r.store.create_invoice(p, c)),
            route("GET", "/v1/invoices", lambda r, p, c: r.store.list_invoices(p)),
            route("GET", f"/v1/invoices/{_ID}", lambda r, p, c, object_id: r.store.get_invoice(object_id, p)),
            route(
                "POST",
                f"/v1/invoices/{_ID}",
                lambda r, p, c, object_id: r.store.update_invoice(object_id, p, c),
            ),
            route(
                "GET",
                f"/v1/invoices/{_ID}/lines",
                lambda r, p, c, object_id: r.store.list_lines(object_id, p),
            ),
            route(
                "POST",
                f"/v1/invoices/{_ID}/finalize",
                lambda r, p, c, object_id: r.store.finalize(object_id, p, c),
            ),
            route("POST", f"/v1/invoices/{_ID}/pay", lambda r, p, c, object_id: r.store.pay(object_id, p, c)),
            route(
                "POST", f"/v1/invoices/{_ID}/send", lambda r, p, c, object_id: r.store.send(object_id, p, c)
            ),
            # The SDK's void_invoice() posts to /void; /void_invoice is accepted as an alias.
            route(
                "POST",
                f"/v1/invoices/{_ID}/void(?:_invoice)?",
                lambda r, p, c, object_id: r.store.void(object_id, p, c),
            ),
            route(
                "POST",
                f"/v1/invoices/{_ID}/mark_uncollectible",
                lambda r, p, c, object_id: r.store.mark_uncollectible(object_id, p, c),
            ),
            route("POST", "/v1/invoiceitems", lambda r, p, c: r.store.create_invoiceitem(p, c)),
            # Invoicing side: credit notes, customer balance transactions, add_lines (invoicing_routes.py).
            *[route(method, path, handler) for method, path, handler in invoicing_routes()],
            # Payments side: payments.py, checkout.py.
            route("GET", "/v1/customers", lambda r, p, c: r.store.wallet.list_customers(p)),
            route(
                "POST",
                f"/v1/customers/{_ID}",
                lambda r, p, c, object_id: r.store.wallet.update_customer(object_id, p, c),
            ),
            route(
                "GET",
                f"/v1/customers/{_ID}/payment_methods",
                lambda r, p, c, object_id: r.store.wallet.list_for_customer(object_id, p),
            ),
            route(
                "POST",
                f"/v1/payment_methods/{_ID}/attach",
                lambda r, p, c, object_id: r.store.wallet.attach_endpoint(object_id, p, c),
            ),
            route(
                "POST",
                f"/v1/payment_methods/{_ID}/detach",
                lambda r, p, c, object_id: r.store.wallet.detach(object_id, p, c),
            ),
            route(
                "GET",
                f"/v1/payment_methods/{_ID}",
                lambda r, p, c, object_id: r.store.wallet.get(object_id, p),
            ),
            route(
                "POST",
                "/v1/checkout/sessions",
                lambda r, p, c: r.store.checkout.create_session(p, c, base_url=s.base_url),
            ),
            route(
                "GET",
                f"/v1/checkout/sessions/{_ID}",
                lambda r, p, c, object_id: r.store.checkout.get_session(object_id, p),
            ),
            route(
                "GET",
                f"/v1/setup_intents/{_ID}",
                lambda r, p, c, object_id: r.store.checkout.get_setup_intent(object_id, p),
            ),
            # Tax side: taxes.py.
            route(
                "POST",
                f"/v1/customers/{_ID}/tax_ids",
                lambda r, p, c, object_id: taxes.create(r.store, object_id, p, c),
            ),
            route(
                "GET",
                f"/v1/customers/{_ID}/tax_ids",
                lambda r, p, c, object_id: taxes.list_tax_ids(r.store, object_id, p),
            ),
            route(
                "GET",
                f"/v1/customers/{_ID}/tax_ids/{_ITEM}",
                lambda r, p, c, object_id, item_id: taxes.retrieve(r.store, object_id, item_id, p),
            ),
            route(
                "DELETE",
                f"/v1/customers/{_ID}/tax_ids/{_ITEM}",
                lambda r, p, c, object_id, item_id: taxes.delete(r.store, object_id, item_id, p, c),
            ),
            # Accounts (accounts.py): the harmless checks an integration makes.
            route("GET", "/v1/account", lambda r, p, c: s._account(r, p)),
            route(
                "GET",
                f"/v1/accounts/{_ID}",
                lambda r, p, c, object_id: s._connected_account(r, object_id, p),
            ),
            route("GET", "/v1/balance", lambda r, p, c: s._balance(r, p)),
        ]

    @staticmethod
    def _account(scope: Scope, params: Params) -> JSON:
        """GET /v1/account: the account acted on (the key's, or the `Stripe-Account` one)."""
        params.allow()
        return scope.account.render()

    def _connected_account(self, scope: Scope, account_id: str, params: Params) -> JSON:
        params.allow()
        return self.accounts.retrieve(scope.account, scope.api_key, account_id)

    @staticmethod
    def _balance(scope: Scope, params: Params) -> JSON:
        """GET /v1/balance: always zero (the server keeps no charges or payouts)."""
        params.allow()
        return from_shape(
            "balance",
            {
                "available": [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}],
                "connect_reserved": [{"amount": 0, "currency": "usd"}],
                "livemode": False,
                "object": "balance",
                "pending": [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}],
            },
        )

    def _route(self, method: str, path: str) -> tuple[_Route, dict[str, str]]:
        for candidate in self._routes:
            match = candidate.pattern.match(path)
            if match and candidate.method == method:
                return candidate, match.groupdict()
        raise ApiError(
            404,
            INVALID_REQUEST,
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at "
            "https://support.stripe.com/.",
            replayable=False,
        )

    # ------------------------------------------------------------------ the API pipeline

    def handle_api(self, method: str, target: str, raw: bytes, headers: dict[str, str]) -> _Outcome:
        split = urlsplit(target)
        path = split.path
        request_id = new_id("req_", 14)
        idempotency_key = headers.get("idempotency-key") if method == "POST" else None
        api_version = headers.get("stripe-version") or DEFAULT_API_VERSION
        log: JSON = {
            "request_id": request_id,
            "method": method,
            "path": path,
            "idempotency_key": idempotency_key,
            "status": None,
            "fault": None,
            "replayed": False,
            "account": None,
            "at": time.time(),
        }
        with self.lock:
            self.request_log.append(log)
            if len(self.request_log) > 20_000:  # a long-running demo server: keep the recent past
                del self.request_log[:10_000]
        base_headers = {"Request-Id": request_id, "Stripe-Version": api_version}
        if idempotency_key:
            base_headers["Idempotency-Key"] = idempotency_key

        rule = self.faults.pick(method, path)
        if rule is not None:
            log["fault"] = rule.action
            early = self._early_fault(rule, request_id, base_headers)
            if early is not None:
                log["status"] = None if early.drop else early.status
                return early

        entry_key: tuple[str, str, str] | None = None
        replayable = True
        try:
            scope = self._authenticate(headers)
            log["account"] = scope.account.id
            params = self._parse(method, split.query, raw, headers)
            route, groups = self._route(method, path)
            if idempotency_key and route.mutating:
                # Keys are scoped to the account and, for Connect, to the account acted on.
                key = (str(scope.key_account.id), str(scope.account.id), idempotency_key)
                replay = self._claim_key(key, method, path, params, request_id)
                if replay is not None:
                    replay.headers.update(base_headers)
                    replay.drop = rule is not None and rule.action in ("drop_after_commit", "timeout")
                    log.update(status=None if replay.drop else replay.status, replayed=True)
                    return replay
                entry_key = key  # ours now: stored or released below
            if rule is not None and rule.action == "timeout":  # commit=True: hold the key while we "hang"
                self._stopping.wait(rule.seconds)
            ctx = RequestContext(request_id, idempotency_key, api_version)
            if rule is not None and rule.action == "500_stored":
                self._stored_500(rule, lambda: route.handler(scope, Params(params), ctx, **groups))
            with self.lock:
                status, body = 200, route.handler(scope, Params(params), ctx, **groups)
        except ApiError as exc:
            status, body, replayable = exc.status, exc.body(request_id), exc.replayable
            base_headers.update(exc.headers)
        except Exception as exc:  # a bug in the server: answer like Stripe's own 500s
            status, body = 500, ApiError(500, API_ERROR, f"Internal error: {exc!r}").body(request_id)
        payload = json.dumps(body, indent=2).encode()
        if entry_key is not None:
            self._finish_key(entry_key, status, payload, replayable)
        log["status"] = status
        drop = rule is not None and rule.action in ("drop_after_commit", "timeout")
        if drop:
            log["status"] = None
        return _Outcome(status, payload, base_headers, drop=drop)

    def _stored_500(self, rule: FaultRule, endpoint: Callable[[], JSON]) -> None:
        """The endpoint started and failed: a 500 that the idempotency key keeps, as Stripe keeps its 500s.

        With `commit` the endpoint's work is done first (and kept); without it nothing happens.
        """
        if rule.commit:
            with self.lock, contextlib.suppress(ApiError):
                endpoint()
        raise ApiError(int(rule.status), API_ERROR, "An unknown error occurred (injected fault, stored).")

    def _early_fault(self, rule: FaultRule, request_id: str, headers: dict[str, str]) -> _Outcome | None:
        """Faults that act before the endpoint runs; None when the request should go on."""
        if rule.action == "500":
            error = ApiError(int(rule.status), API_ERROR, "An unknown error occurred (injected fault).")
            extra = (
                {} if rule.should_retry is None else {"Stripe-Should-Retry": str(rule.should_retry).lower()}
            )
            return _Outcome(
                error.status, json.dumps(error.body(request_id), indent=2).encode(), headers | extra
            )
        if rule.action == "429":
            error = ApiError(
                429,
                INVALID_REQUEST,
                "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
                code="rate_limit",
            )
            extra = {
                "Retry-After": str(rule.retry_after),
                "Stripe-Should-Retry": "false" if rule.should_retry is False else "true",
            }
            return _Outcome(429, json.dumps(error.body(request_id), indent=2).encode(), headers | extra)
        if rule.action == "timeout" and not rule.commit:
            self._stopping.wait(rule.seconds)
            return _Outcome(drop=True)
        return None

    def _authenticate(self, headers: dict[str, str]) -> Scope:
        """The key (secret `sk_test_` or restricted `rk_test_`), its account, and the account acted on."""
        header = headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        key = ""
        if scheme.lower() == "bearer":
            key = credentials.strip()
        elif scheme.lower() == "basic":
            try:
                key = base64.b64decode(credentials).decode().partition(":")[0]
            except ValueError:
                key = ""
        if not key:
            raise ApiError(
                401,
                INVALID_REQUEST,
                "You did not provide an API key. You need to provide your API key in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
                "https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
                replayable=False,
            )
        with self.lock:
            allowed = self.api_keys is None or key in self.api_keys or self.accounts.registered(key)
            if not API_KEY.match(key) or not allowed:
                raise ApiError(
                    401, INVALID_REQUEST, f"Invalid API Key provided: {masked(key)}", replayable=False
                )
            key_account = self.accounts.for_key(key)
            acting = self.accounts.acting_as(key_account, key, headers.get("stripe-account"))
        return Scope(key, key_account, acting)

    def _parse(self, method: str, query: str, raw: bytes, headers: dict[str, str]) -> dict[str, Any]:
        try:
            params = parse_form(query)
            if method == "POST" and raw:
                content_type = headers.get("content-type", "application/x-www-form-urlencoded")
                if not content_type.startswith("application/x-www-form-urlencoded"):
                    raise ApiError(
                        400,
                        INVALID_REQUEST,
                        f"Invalid request: unsupported Content-Type {content_type}. If error persists and you "
                        "need assistance, please contact support@stripe.com.",
                        replayable=False,
                    )
                params.update(parse_form(raw.decode("utf-8")))
        except (FormError, UnicodeDecodeError) as exc:
            raise ApiError(400, INVALID_REQUEST, str(exc), replayable=False) from exc
        return params

    # ------------------------------------------------------------------ idempotency

    def _claim_key(
        self, key: tuple[str, str, str], method: str, path: str, params: dict[str, Any], request_id: str
    ) -> _Outcome | None:
        """Take the key for this request, or answer from it: replay, 409 in progress, or 400 mismatch."""
        with self.lock:
            entry = self._idempotency.get(key)
            now = self.clock()
            if entry is not None and entry.done and now - entry.created >= IDEMPOTENCY_KEY_LIFETIME:
                entry = None  # pruned: the key is free for a new request
            if entry is None:
                self._idempotency[key] = _IdempotencyEntry(method, path, params, request_id, created=now)
                return None
        idempotency_key = key[2]
        if (entry.method, entry.path) != (method, path):
            raise ApiError(
                400,
                IDEMPOTENCY_ERROR,
                "Keys for idempotent requests can only be used for the same endpoint they were first used for "
                f"('{entry.method} {entry.path}' vs '{method} {path}'). Try using a key other than "
                f"'{idempotency_key}' if you meant to execute a different request.",
                replayable=False,
            )
        if entry.params != params:
            raise ApiError(
                400,
                IDEMPOTENCY_ERROR,
                "Keys for idempotent requests can only be used with the same parameters they were first used with. "
                f"Try using a key other than '{idempotency_key}' if you meant to execute a different request.",
                replayable=False,
            )
        if not entry.done:
            raise ApiError(
                409,
                IDEMPOTENCY_ERROR,
                "There is currently another in-progress request using this Idempotent Key (that probably means "
                "you submitted twice, and the other request is still going through): "
                f"{idempotency_key}. Please try again later.",
                code="idempotency_key_in_use",
                replayable=False,
            )
        headers = {"Idempotent-Replayed": "true", "Original-Request": entry.request_id}
        return _Outcome(entry.status, entry.body, headers)

    def _finish_key(self, key: tuple[str, str, str], status: int, body: bytes, replayable: bool) -> None:
        with self.lock:
            entry = self._idempotency.get(key)
            if entry is None:
                return
            if replayable:
                entry.done, entry.status, entry.body = True, status, body
            else:
                del self._idempotency[key]

    # ------------------------------------------------------------------ admin

    def dump_state(self, account_id: str | None = None) -> JSON:
        """One account's objects (`account_id`), or every account's merged (ids never collide)."""
        with self.lock:
            chosen = None if account_id is None else self.accounts.select(account_id)
            accounts = self.accounts.all() if chosen is None else [chosen]
            state: JSON = {}
            for account in accounts:
                for section, objects in account.store.dump().items():
                    if section != "events":
                        state.setdefault(section, {}).update(objects)
            events = self.event_log if chosen is None else chosen.store.events
            state["events"] = json.loads(json.dumps(events))
            state["idempotency_keys"] = [
                {
                    "account": acting,
                    "key": key,
                    "method": entry.method,
                    "path": entry.path,
                    "status": entry.status if entry.done else "in_progress",
                    "request_id": entry.request_id,
                }
                for (_, acting, key), entry in self._idempotency.items()
                if chosen is None or acting == chosen.id
            ]
            state["requests"] = self._requests(chosen)
            state["accounts"] = [account.describe() for account in self.accounts.all()]
            default = self.accounts.default if chosen is None else chosen
        state["faults"] = self.faults.describe()
        state["webhook"] = self.webhooks.describe(default)
        state["webhooks"] = self.webhooks.describe_all()
        state["deliveries"] = list(self.webhooks.deliveries)
        return state

    def _requests(self, account: Account | None) -> list[JSON]:
        return [dict(item) for item in self.request_log if account is None or item["account"] == account.id]

    def handle_admin(self, method: str, target: str, raw: bytes) -> tuple[int, Any]:
        split = urlsplit(target)
        path = split.path.rstrip("/")
        query = dict(parse_qsl(split.query))
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return 400, {"error": "body must be JSON"}
        try:
            return self._admin(method, path, query, body)
        except (ValueError, TypeError, KeyError) as exc:
            return 400, {"error": f"{type(exc).__name__}: {exc}"}

    def _admin(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        # Calls about one account name it in the query string or the body; without it: the default account.
        named = query.get("account") or (body.get("account") if isinstance(body, dict) else None)
        connect = str(query.get("connect", body.get("connect") if isinstance(body, dict) else False)).lower()
        on_connect = connect in ("true", "1")
        if (method, path) == ("GET", "/__admin/state"):
            return 200, self.dump_state(named)
        if (method, path) == ("POST", "/__admin/reset"):
            self.reset()
            return 200, {"reset": True}
        if path == "/__admin/accounts":
            with self.lock:
                if method == "POST":
                    return 200, self.accounts.register(body).describe()
                return 200, {"accounts": [account.describe() for account in self.accounts.all()]}
        if path == "/__admin/tax":
            with self.lock:
                account = self.accounts.select(named)
                if method == "POST":
                    account.store.tax_rates = taxes.configure_rates(body.get("rates"))
                return 200, account.describe()
        if path == "/__admin/faults":
            if method == "POST":
                specs = body if isinstance(body, list) else body.get("rules", [body])
                return 200, {"added": [rule.describe() for rule in self.faults.add(specs)]}
            if method == "DELETE":
                self.faults.clear()
                return 200, {"faults": []}
            return 200, {"faults": self.faults.describe()}
        if path == "/__admin/webhook":
            with self.lock:
                owner = self.accounts.select(named)
            if method == "POST":
                return 200, self.webhooks.configure(
                    owner,
                    connect=on_connect,
                    url=body.get("url"),
                    secret=body.get("secret"),
                    enabled_events=body.get("enabled_events"),
                    paused=body.get("paused"),
                    timeout=body.get("timeout"),
                )
            if method == "DELETE":
                return 200, self.webhooks.configure(owner, connect=on_connect, url=None, secret=None)
            return 200, self.webhooks.describe(owner, on_connect)
        if (method, path) == ("POST", "/__admin/webhook/release"):
            with self.lock:
                owner = self.accounts.select(named)
            return 200, {"deliveries": self.webhooks.release(owner, on_connect, body.get("order", "fifo"))}
        if (method, path) == ("POST", "/__admin/webhook/drain"):
            return 200, {"drained": self.webhooks.drain(float(body.get("timeout", 10)))}
        if (method, path) == ("GET", "/__admin/events"):
            with self.lock:
                stored = self.event_log if named is None else self.accounts.select(named).store.events
                events = [e for e in stored if query.get("type") in (None, e["type"])]
                return 200, {"events": json.loads(json.dumps(events))}
        match = re.fullmatch(r"/__admin/events/(evt_[A-Za-z0-9]+)/deliver", path)
        if method == "POST" and match:
            deliveries = self.webhooks.deliver(
                match.group(1),
                times=int(body.get("times", 1)),
                secret=body.get("secret"),
                timestamp=body.get("timestamp"),
                connect=on_connect,
            )
            return 200, {"deliveries": deliveries}
        if (method, path) == ("GET", "/__admin/deliveries"):
            return 200, {"deliveries": list(self.webhooks.deliveries)}
        if (method, path) == ("GET", "/__admin/requests"):
            with self.lock:
                chosen = None if named is None else self.accounts.select(named)
                return 200, {"requests": self._requests(chosen)}
        if path == "/__admin/clock":
            with self.lock:
                if method == "POST":
                    advance = body.get("advance")
                    if not isinstance(advance, int | float) or isinstance(advance, bool):
                        raise ValueError("advance must be a number of seconds")
                    ctx = RequestContext(None, None, DEFAULT_API_VERSION)  # Stripe's own work: no request
                    emitted = self.accounts.advance(advance, ctx, self.event_log)
                    return 200, {**self.clock.describe(), "events": emitted}
                return 200, self.clock.describe()
        if path == "/__admin/collection":
            with self.lock:
                collection = self.accounts.select(named).store.collection
                if method == "POST":
                    return 200, collection.configure({k: v for k, v in body.items() if k != "account"})
                return 200, collection.describe()
        match = re.fullmatch(r"/__admin/checkout/(cs_test_[A-Za-z0-9]+)/complete", path)
        if method == "POST" and match:
            return self._complete_checkout(match.group(1), body.get("payment_method", "pm_card_visa"))
        return 404, {"error": f"no admin route {method} {path}"}

    def _session_store(self, session_id: str) -> Store:
        """The store of the account whose Checkout Session this is (the default account's when none has it)."""
        for account in self.accounts.all():
            if session_id in account.store.checkout.sessions:
                return account.store
        return self.accounts.default.store

    def _complete_checkout(self, session_id: str, token: str) -> tuple[int, Any]:
        """Complete a setup-mode Checkout Session as the customer would, with a test card token."""
        ctx = RequestContext(None, None, DEFAULT_API_VERSION)
        try:
            with self.lock:
                return 200, self._session_store(session_id).checkout.complete(session_id, token, ctx)
        except ApiError as exc:
            return exc.status, exc.body()

    def handle_checkout_page(self, method: str, target: str) -> tuple[int, str, dict[str, str]]:
        """The hosted page of a Checkout Session (`session.url`): GET shows it, POST saves pm_card_visa."""
        session_id = urlsplit(target).path.rstrip("/").rpartition("/")[2]
        if method == "POST":
            status, result = self._complete_checkout(session_id, "pm_card_visa")
            if status == 200:
                with self.lock:
                    return (
                        303,
                        "",
                        {"Location": self._session_store(session_id).checkout.success_url(session_id)},
                    )
            return status, json.dumps(result), {}
        with self.lock:
            return 200, self._session_store(session_id).checkout.page(session_id), {}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: StripeServer


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like api.stripe.com
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server_version = "stripe-local/1.0"
    server: _HTTPServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        app = self.server.app
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.startswith("/__admin"):
            status, body = app.handle_admin(self.command, self.path, raw)
            self._send(status, json.dumps(body, indent=2, default=str).encode(), {})
            return
        if self.path.startswith("/__checkout/"):
            status, page, headers = app.handle_checkout_page(self.command, self.path)
            self._send(status, page.encode(), {"Content-Type": "text/html; charset=utf-8", **headers})
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        outcome = app.handle_api(self.command, self.path, raw, headers)
        if outcome.drop:
            self._drop()
            return
        self._send(outcome.status, outcome.body, outcome.headers)

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        try:
            extra = dict(headers)
            self.send_response(status)
            self.send_header("Content-Type", extra.pop("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(body)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up (e.g. its timeout fired first)
            self.close_connection = True

    def _drop(self) -> None:
        """Close the connection without a byte of response: the client sees a reset / remote disconnect."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.app.verbose:
            super().log_message(format, *args)
