"""Verity's settings: one module, every deployment choice read from the environment (12-factor)."""

from pathlib import Path

import environ

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
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "contracts",
    "outcomes",
    "settlement",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
            ],
        },
    },
]

# The embedded default is an SQLite file beside the project; tests and production use PostgreSQL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'verity.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
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
STATIC_ROOT = BASE_DIR / "staticfiles"

LOGIN_URL = "admin:login"

# Webhook signing secrets must be recoverable to compute HMACs, so they are encrypted at rest
# with Fernet keys from here: a comma-separated list, the first encrypts, all decrypt (rotation).
if DEBUG:
    FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
else:
    FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS")

# Audit sampling draws outcomes by an HMAC with this secret, so a vendor cannot predict the sample.
AUDIT_SAMPLING_SECRET = env.str("AUDIT_SAMPLING_SECRET", default="")

# Celery: with no broker configured, tasks run in-process, eagerly (the embedded default).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if CELERY_TASK_ALWAYS_EAGER:
    CELERY_BROKER_URL = "memory://"  # never used for eager tasks; keeps kombu from guessing a host
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "sweep-unprocessed-events": {"task": "outcomes.tasks.sweep_unprocessed_events", "schedule": 60.0},
    "evaluate-due-outcomes": {"task": "outcomes.tasks.evaluate_due_outcomes", "schedule": 60.0},
    "close-due-periods": {"task": "settlement.tasks.close_due_periods", "schedule": 300.0},
    "finalize-due-invoices": {"task": "settlement.tasks.finalize_due_invoices", "schedule": 300.0},
}

# Webhook bodies are capped at 1 MiB by the endpoint itself (413); this keeps Django's own cap above it.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Stripe: the API key, and the API base so a local Stripe-compatible server can stand in.
STRIPE_API_KEY = env.str("STRIPE_API_KEY", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=4)
# Said plainly wherever money is shown: the demo settles against a local test server, not Stripe.
STRIPE_IS_LOCAL_TEST_SERVER = STRIPE_API_BASE.startswith(("http://127.0.0.1", "http://localhost"))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["contracts.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["contracts.api.permissions.HasVendorApiKey"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "contracts.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "contracts.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Verity API",
    "DESCRIPTION": (
        "Outcome-based contracts and their settlement. Authenticate with a vendor API key: "
        "`Authorization: Bearer vrt_…`. Every error has the same shape: "
        "`{status, code, message, field_errors}`."
    ),
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "contracts.api.schema.add_error_responses",
        "outcomes.api.schema.add_webhook_endpoint",
    ],
    "SECURITY": [{"ApiKeyAuth": []}],
    "ENUM_NAME_OVERRIDES": {
        "CollectionMethodEnum": ["charge_automatically", "send_invoice"],
        "ContractStatusEnum": "contracts.models.ContractStatus",
        "OutcomeStateEnum": "outcomes.models.OutcomeState",
        "InvoiceStatusEnum": "settlement.models.InvoiceStatus",
        "LineKindEnum": "settlement.models.LineKind",
        "EventKindEnum": "outcomes.models.EventKind",
        "WebhookSourceKindEnum": "contracts.models.WebhookSource.Kind",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
