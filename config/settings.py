"""Verity's settings: one module, every deployment choice read from the environment (12-factor)."""

import ipaddress
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path

import environ
from csp.constants import NONCE

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-secret-key-change-me")
else:
    SECRET_KEY = env.str("SECRET_KEY")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "contracts.apps.OperatorAdminConfig",  # Django's admin, for operators only: never a vendor's member
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served locally: the API docs work offline
    "axes",
    "core",
    "contracts",
    "outcomes",
    "settlement",
    "customer_portal",  # the customer's portal (/customer/): imports the domain apps, none imports it
    "notifications",  # outbound webhooks and alert emails: listens to every domain app, none imports it
]
# The demo's commands (seed_demo, demo_activity) only in a debug run from a source checkout: a production
# deployment has no command that creates the demo's known logins (devtools/ is not in the package).
if DEBUG and find_spec("devtools.demo") is not None:
    INSTALLED_APPS.append("devtools.demo")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files, served by the application itself
    "core.csp.CSPMiddleware",  # django-csp's, skipping the policies of an exempt response
    "core.api.middleware.RequestBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.api.errors.DatabaseUnavailableMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks: it answers locked-out sign-ins
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "contracts.portal.portal_context",
                "customer_portal.portal.customer_portal_context",
                "notifications.portal.webhooks_out_notice",
            ],
        },
    },
]

# The embedded default is an SQLite file beside the project; tests and production use PostgreSQL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'verity.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
# A kept connection the database dropped meanwhile (restart, failover) is replaced before a request uses it.
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", env.bool("CONN_HEALTH_CHECKS", default=True))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DATABASE_PREPARED_STATEMENTS", default=True
):
    # psycopg prepares only the statements run with prepare=True (the ingestion's inserts,
    # outcomes.ingestion.storage: half their PostgreSQL CPU is planning); Django's default (None)
    # would refuse even those. False for a pooler that cannot keep them (PgBouncer in transaction mode
    # without max_prepared_statements).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 2**31 - 1)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Uploaded files (a dispute's evidence): never served by URL, only through views that check access.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# In production WhiteNoise serves STATIC_ROOT (filled by `manage.py collectstatic`) with hashed names,
# compressed and cached for a year, so gunicorn alone serves a working portal; in debug Django serves
# the apps' files as they are, with no collectstatic needed.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Fixed at start-up (the test runner turns DEBUG off at run time): in debug, WhiteNoise finds the files in
# the apps, as Django's own static view does, and never looks for a STATIC_ROOT that was not collected.
WHITENOISE_AUTOREFRESH = WHITENOISE_USE_FINDERS = DEBUG

# The vendor portal signs in with Django's auth views; the admin keeps its own sign-in page.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "settlement:dashboard"
LOGOUT_REDIRECT_URL = "login"

# Sign-in throttling (django-axes): after AXES_FAILURE_LIMIT failures for one username from one
# address, that pair is locked out for AXES_COOLOFF_MINUTES; a success resets the count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.int("AXES_COOLOFF_MINUTES", default=15) / 60  # hours, as axes reads it
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# No "AXES: BEGIN version …" line from every process that starts (each manage.py command, each worker);
# failed sign-ins and lockouts are still logged, with the username and address they count against.
AXES_VERBOSE = False

# Password-reset mail: printed to the console unless an SMTP server is configured (EMAIL_URL).
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Verity <no-reply@verity.invalid>")

# Webhook signing secrets must be recoverable to compute HMACs, so they are encrypted at rest
# with Fernet keys from here: a comma-separated list, the first encrypts, all decrypt (rotation).
if DEBUG:
    FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
else:
    FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS")

# Audit sampling draws outcomes by an HMAC with this secret, so a vendor cannot predict the sample.
AUDIT_SAMPLING_SECRET = env.str("AUDIT_SAMPLING_SECRET", default="")

# External verifiers a policy may name (rule 6b, docs/verification.md "6b. External verifier"), by name:
# {"name": {"url": "https://…", "secret": "whsec_…"}} (an HTTP verifier, signed both ways, reached like
# an outbound webhook) or {"name": {"entry_point": "package.module:function"}}. Only the operator lists
# them: a vendor's policy names one, it never gives a URL.
VERIFIERS: dict[str, dict[str, str]] = env.json("VERIFIERS", default={})
# Verifier calls per run of the beat task (outcomes.tasks.call_verifiers).
VERIFIER_BATCH = env.int("VERIFIER_BATCH", default=100)

# Celery: with no broker configured, tasks run in-process, eagerly (the embedded default).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if CELERY_TASK_ALWAYS_EAGER:
    # Never used for eager tasks, but Celery still takes a producer from the pool for each one, and kombu
    # warns "No hostname was supplied" about a URL without a host: name one (the in-memory transport
    # ignores it).
    CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
# Failure modes (docs/operations.md): a publish gives up after about a second when the broker is down
# (the web process has stored the events already; the sweep builds them), a worker keeps reconnecting,
# and a message a killed worker held comes back after the visibility timeout (longer than any task).
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
    "socket_timeout": 10.0,
}
# A task whose broker connection dropped cannot be acknowledged any more and will be redelivered: stop it.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TIMEZONE = "UTC"
# How long a stored event waits for its own build task before the sweep builds it instead.
OUTCOMES_SWEEP_GRACE_SECONDS = env.float("OUTCOMES_SWEEP_GRACE_SECONDS", default=60.0)
CELERY_BEAT_SCHEDULE = {
    "sweep-unprocessed-events": {"task": "outcomes.tasks.sweep_unprocessed_events", "schedule": 60.0},
    "evaluate-due-outcomes": {"task": "outcomes.tasks.evaluate_due_outcomes", "schedule": 60.0},
    # External verifiers are called here, outside any verification transaction (rule 6b).
    "call-verifiers": {"task": "outcomes.tasks.call_verifiers", "schedule": 30.0},
    "close-due-periods": {"task": "settlement.tasks.close_due_periods", "schedule": 300.0},
    "finalize-due-invoices": {"task": "settlement.tasks.finalize_due_invoices", "schedule": 300.0},
    # Outbound webhooks: the outbox is swept even when no wake-up message arrived (broker down, lost).
    "dispatch-webhooks": {"task": "notifications.tasks.dispatch_webhooks", "schedule": 10.0},
    "prune-webhooks": {"task": "notifications.tasks.prune_webhooks", "schedule": 3600.0},
    # Time-based events (deadlines approaching, overdue invoices, budget thresholds, expiring secrets):
    # each domain announces its own, once per object and deadline (the outbox's dedup key).
    "announce-outcome-deadlines": {"task": "outcomes.tasks.announce_deadlines", "schedule": 900.0},
    "announce-settlement-deadlines": {"task": "settlement.tasks.announce_deadlines", "schedule": 300.0},
    "announce-contract-deadlines": {"task": "contracts.tasks.announce_deadlines", "schedule": 3600.0},
}

# --- limits (docs/api.md "Limits", docs/webhooks.md "Limits") ------------------------------------
# Any request body under /api/ or /webhooks/ above this answers 413 body_too_large (it is also Django's
# own cap on request.body); the webhook endpoint caps its bodies lower, at WEBHOOK_MAX_BODY_BYTES.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2 * 1024 * 1024)
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=1024 * 1024)
WEBHOOK_MAX_BATCH_EVENTS = env.int("WEBHOOK_MAX_BATCH_EVENTS", default=1000)
API_MAX_PAGE_SIZE = env.int("API_MAX_PAGE_SIZE", default=200)

# --- who sent a webhook (docs/verification.md "Sender addresses") -----------------------------------
# Each accepted delivery records the address it came from. Behind proxies of your own (a load balancer,
# a TLS terminator), say how many: each appends what it saw to X-Forwarded-For and the sender is that
# many entries from the right. 0 (the default): the peer's address (REMOTE_ADDR), X-Forwarded-For ignored.
WEBHOOK_TRUSTED_PROXY_HOPS = env.int("WEBHOOK_TRUSTED_PROXY_HOPS", default=0)
# A file of anonymising networks (e.g. Tor exit nodes), one CIDR or address a line, `#` comments; read
# again when it changes. Empty (the default): no network is anonymising. The `sender` rule reads it.
SENDER_ANONYMISING_NETWORKS_FILE = env.str("SENDER_ANONYMISING_NETWORKS_FILE", default="")
# Networks many parties legitimately post from (a shared integration platform's egress), as CIDRs: an
# address there says nothing about who is behind it, so the `sender` rule's shared-address check
# ignores it (as it ignores every address that is not public: loopback, private, reserved).
SENDER_SHARED_NETWORKS = env.list("SENDER_SHARED_NETWORKS", default=[])
for _network in SENDER_SHARED_NETWORKS:
    ipaddress.ip_network(_network, strict=False)  # a typo stops the start, not every verification run
# Rate limits, "<count>/<period>" with period s, m, h or d (e.g. "100/5s"); an empty value turns one off.
# Counted in the cache below: fixed windows, one counter per webhook source or API key. Generous by
# default: the ingestion benchmark (hundreds of requests a second on one source) stays well under them.
WEBHOOK_RATE_LIMIT = env.str("WEBHOOK_RATE_LIMIT", default="120000/m")
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="6000/m")
# The public pages of invoice share links (/shared/invoices/<link>/), per client address (the address as
# WEBHOOK_TRUSTED_PROXY_HOPS finds it): an auditor pages through well under it; a guesser gets nowhere.
SHARED_LINK_RATE_LIMIT = env.str("SHARED_LINK_RATE_LIMIT", default="60/m")

# The cache holds the rate-limit counters. CACHE_URL=redis://host:6379/<db> shares them between every
# process (Django's own Redis backend); without it each process counts on its own, in local memory.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://verity")}
if CACHES["default"]["BACKEND"].endswith("RedisCache"):
    # Short timeouts: with Redis away the limiter lets requests through (it fails open) instead of hanging.
    CACHES["default"].setdefault("OPTIONS", {}).update(socket_connect_timeout=0.5, socket_timeout=0.5)
    CACHES["default"].setdefault("KEY_PREFIX", "verity")

# Stripe: the API key, and the API base so a local Stripe-compatible server can stand in.
STRIPE_API_KEY = env.str("STRIPE_API_KEY", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
# Platform mode (vendors' connected accounts under STRIPE_API_KEY): the signing secret of the platform's
# Connect webhook endpoint, which also posts to /webhooks/stripe; empty: no Connect events are accepted.
STRIPE_CONNECT_WEBHOOK_SECRET = env.str("STRIPE_CONNECT_WEBHOOK_SECRET", default="")
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=4)
# Per attempt; with the retries it stays well inside a task's time limit (the SDK's default is 80 s).
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=20.0)
# Said plainly wherever money is shown: the demo settles against a local test server, not Stripe.
STRIPE_IS_LOCAL_TEST_SERVER = STRIPE_API_BASE.startswith(("http://127.0.0.1", "http://localhost"))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["contracts.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["contracts.api.permissions.HasVendorApiKey"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["contracts.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "TITLE": "Verity API",
    "DESCRIPTION": (
        "Outcome-based contracts and their settlement. Authenticate with a vendor API key: "
        "`Authorization: Bearer vrt_…`. Every error has the same shape: "
        "`{status, code, message, field_errors}`."
    ),
    "VERSION": version("verity"),  # the package's version (pyproject.toml), so the schema says which build
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.add_error_responses",
        "outcomes.api.schema.add_webhook_endpoint",
        "notifications.api.schema.add_webhooks",
        "core.api.schema.tag_by_resource",  # last: after every hook that adds an operation
    ],
    "SECURITY": [{"ApiKeyAuth": []}],
    "ENUM_NAME_OVERRIDES": {
        "CollectionMethodEnum": ["charge_automatically", "send_invoice"],
        "CreditAfterPaymentEnum": ["customer_balance", "refund"],
        "ContractStatusEnum": "contracts.models.ContractStatus",
        "TaxExemptEnum": "contracts.models.TaxExempt.values",
        "TaxIdTypeEnum": "contracts.billing_details.TAX_ID_TYPES",
        "OutcomeStateEnum": "outcomes.models.OutcomeState",
        "InvoiceStatusEnum": "settlement.models.InvoiceStatus",
        "LineKindEnum": "settlement.models.LineKind",
        "EventKindEnum": "outcomes.models.EventKind",
        "WebhookSourceKindEnum": "contracts.models.WebhookSource.Kind",
        "FactSourceEnum": ["system_of_record", "earliest_event"],
        "WebhookSourceApprovalEnum": "contracts.models.WebhookSource.Approval",
        "InvoiceApprovalStatusEnum": "settlement.models.ApprovalStatus",
        "DisputeStatusEnum": "outcomes.models.Dispute.Status",
    },
}

# --- outbound webhooks (docs/webhooks-out.md) ------------------------------------------------------
# Links in event payloads point here (the portal's and the API's address as receivers reach it).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Endpoints must use HTTPS, except in debug (a local receiver over plain HTTP).
WEBHOOKS_OUT_REQUIRE_HTTPS = env.bool("WEBHOOKS_OUT_REQUIRE_HTTPS", default=not DEBUG)
# Loopback, private, link-local, metadata and other non-public addresses are refused after DNS resolution
# (SSRF), unless listed here (CIDRs, e.g. "127.0.0.0/8,10.1.2.0/24"): an operator's allow-list.
WEBHOOKS_OUT_ALLOWED_NETWORKS = env.list("WEBHOOKS_OUT_ALLOWED_NETWORKS", default=[])
WEBHOOKS_OUT_CONNECT_TIMEOUT = env.float("WEBHOOKS_OUT_CONNECT_TIMEOUT", default=5.0)
WEBHOOKS_OUT_READ_TIMEOUT = env.float("WEBHOOKS_OUT_READ_TIMEOUT", default=10.0)
# How much of a response is read (the rest is dropped) and how much of it the delivery log keeps.
WEBHOOKS_OUT_RESPONSE_READ_BYTES = env.int("WEBHOOKS_OUT_RESPONSE_READ_BYTES", default=16 * 1024)
# An endpoint that has failed every attempt for this long, at least this many times, is disabled.
WEBHOOKS_OUT_DISABLE_AFTER_HOURS = env.float("WEBHOOKS_OUT_DISABLE_AFTER_HOURS", default=72.0)
WEBHOOKS_OUT_DISABLE_AFTER_FAILURES = env.int("WEBHOOKS_OUT_DISABLE_AFTER_FAILURES", default=10)
# Events, deliveries and attempts older than this are pruned (pending deliveries never are).
WEBHOOKS_OUT_RETENTION_DAYS = env.int("WEBHOOKS_OUT_RETENTION_DAYS", default=30)
# How long a rotated secret still signs beside the new one.
WEBHOOKS_OUT_SECRET_OVERLAP_HOURS = env.float("WEBHOOKS_OUT_SECRET_OVERLAP_HOURS", default=24.0)

# --- security (docs/operations.md "Security") ----------------------------------------------------
# Secure by default whenever DEBUG is off: HTTPS only (redirect, HSTS, secure cookies) and the security
# headers. Each is overridable, e.g. SECURE_SSL_REDIRECT=false behind a proxy that redirects itself, or
# for a loopback benchmark over plain HTTP.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = env.list("SECURE_REDIRECT_EXEMPT", default=[])
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
# Behind a TLS-terminating proxy, name the header it sets, e.g. SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto
# (only if the proxy always sets or strips it: a client must not be able to claim HTTPS).
_proxy_ssl_header = env.str("SECURE_PROXY_SSL_HEADER", default="")
if _proxy_ssl_header:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp), in every mode: the portal loads only its own static files (no
# inline script, no CDN; the dashboard's figures travel as json_script data). The Swagger UI page at
# /api/docs/ (its assets served locally by drf-spectacular-sidecar, but its start-up script inline) and
# the webhook endpoints are exempt (config/urls.py, the views).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", NONCE],  # the nonce only where a page asks for it (the printable invoice)
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Django's loggers print through the root's handler alone: Django's default one (console, in debug)
    # would print each of their lines a second time.
    "loggers": {"django": {"handlers": [], "level": LOG_LEVEL}},
}
