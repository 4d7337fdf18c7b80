"""Omnitrail settings, read from the environment.

With nothing set, Omnitrail runs embedded: a SQLite file, Celery tasks run eagerly in
process, an in-memory cache. `DATABASE_URL` and `REDIS_URL` switch to PostgreSQL and a
real broker. Every `OMNITRAIL_*` setting has its default and its reason here, and only here.
"""

import os
from importlib.util import find_spec
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

INSECURE_DEFAULT_SECRET = "insecure-embedded-only-secret-key-change-me"

# Embedded when no DATABASE_URL is given: a laptop, the demo, the embedded test run.
EMBEDDED = "DATABASE_URL" not in os.environ
DEBUG = env.bool("DEBUG", default=EMBEDDED)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=INSECURE_DEFAULT_SECRET)
if not DEBUG and SECRET_KEY == INSECURE_DEFAULT_SECRET:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set when DEBUG is off (production refuses the default secret)."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    # The apps, lowest layer first. Their AppConfig.ready() runs in this order, and the
    # work they add to ingestion (cdp.ingest_steps) runs in it too: identity, then
    # consent, then attribution's segments.
    "cdp",
    "identity",
    "consent",
    "attribution",
    # The site shell (cdp/site/): root and page urls, the pages that join apps, the demo.
    "cdp.site",
]

MIDDLEWARE = [
    # CORS for the tracking endpoints only (CORS_URLS_REGEX): before anything that answers.
    "cdp.api.cors.TrackingCorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Who viewed or changed personal data in the admin (cdp.AuditEntry).
    "cdp.audit.AdminAuditMiddleware",
]

ROOT_URLCONF = "cdp.site.urls"
WSGI_APPLICATION = "cdp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'omnitrail.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    (BASE_DIR / "var").mkdir(exist_ok=True)
    # WAL lets the demo read while a write is in flight; the timeout rides out short locks.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
else:
    # Keep connections open between requests: ingestion is many small transactions.
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Covering indexes (INCLUDE) exist on PostgreSQL; SQLite keeps the key columns only.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Without collectstatic (embedded, tests) WhiteNoise serves straight from the apps.
WHITENOISE_USE_FINDERS = True
# The report pages draw with plotly.js as the plotly package ships it: served from our
# own static files (/static/plotly/plotly.min.js), never from a CDN.
_PLOTLY = find_spec("plotly")
if _PLOTLY is None or not _PLOTLY.submodule_search_locations:
    raise ImproperlyConfigured("the plotly package is missing: pip install -e .")
STATICFILES_DIRS = [("plotly", Path(_PLOTLY.submodule_search_locations[0]) / "package_data")]

# The pages under /app/ sign in with Django's own login; the admin links to them.
LOGIN_URL = "app-login"
LOGIN_REDIRECT_URL = "app-overview"
LOGOUT_REDIRECT_URL = "app-login"

# --- Celery -----------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
# Embedded: tasks run in-process, so the demo needs no worker.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# A publish must fail fast when the broker is down: the sweep finds the work again.
CELERY_BROKER_TRANSPORT_OPTIONS = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
CELERY_TASK_ROUTES = {
    # Splink runs are heavy (DuckDB memory, minutes at scale): their own workers.
    "identity.tasks.match_*": {"queue": "matching"},
    "identity.*": {"queue": "identity"},
    # Segment membership follows each change within seconds: not behind attribution runs.
    "attribution.tasks.reevaluate_*": {"queue": "segments"},
    "attribution.tasks.refresh_due_segments": {"queue": "segments"},
    "attribution.tasks.refresh_one_segment": {"queue": "segments"},
    "attribution.tasks.deliver_webhook": {"queue": "segments"},
    "attribution.tasks.send_due_deliveries": {"queue": "segments"},
    "attribution.*": {"queue": "attribution"},
    "consent.*": {"queue": "consent"},
    # The hand-off after ingestion starts identity's work: with it.
    "cdp.tasks.drain_handoffs": {"queue": "identity"},
}
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BEAT_SCHEDULE = {
    # Touchpoints whose on-commit enqueue was lost (broker down) are picked up here.
    "identity-sweep-unresolved": {
        "task": "identity.tasks.sweep_unresolved_touchpoints",
        "schedule": crontab(minute="*"),
    },
    # Every goal's attribution, from the touchpoints as they are (consent applied anew).
    "attribution-refresh": {
        "task": "attribution.tasks.refresh_all_goals",
        "schedule": crontab(minute=30, hour=3),
    },
    # Consent carried by touchpoints the identity sweep resolved (hand-off to the broker lost).
    "consent-sweep": {
        "task": "consent.tasks.sweep_touchpoint_consents",
        "schedule": crontab(minute="*/10"),
    },
    # Segments whose own interval has passed are recomputed whole.
    "segments-refresh-due": {
        "task": "attribution.tasks.refresh_due_segments",
        "schedule": crontab(minute="*/5"),
    },
    # Profiles changed by merges, unmerges and consent (and the identity sweep's
    # touchpoints): their facts and memberships anew.
    "segments-changed-profiles": {
        "task": "attribution.tasks.reevaluate_changed_profiles",
        "schedule": crontab(minute="*"),
    },
    # Webhook deliveries whose scheduled retry was lost.
    "segments-due-deliveries": {
        "task": "attribution.tasks.send_due_deliveries",
        "schedule": crontab(minute="*"),
    },
    # Facts of every profile, RFM edges and personas learnt anew.
    "facts-refresh": {
        "task": "attribution.tasks.refresh_all_facts",
        "schedule": crontab(minute=30, hour=2),
    },
    # New and changed profiles matched against the rest with the saved Splink model.
    "identity-match-incremental": {
        "task": "identity.tasks.match_profiles_incremental",
        "schedule": crontab(minute="*/15"),
    },
}

# --- Django REST framework --------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["cdp.api.permissions.ModelPermissionsWithView"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "cdp.api.pagination.IdCursorPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "cdp.api.errors.exception_handler",
}
REST_KNOX = {
    "AUTH_HEADER_PREFIX": "Bearer",
    # Back-end integrations hold long-lived tokens; they are revoked, not expired.
    "TOKEN_TTL": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Omnitrail API",
    "DESCRIPTION": "Customer data platform: ingestion, profiles, identity, consent, attribution.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from our own static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Omnitrail ----------------------------------------------------------------------------
# Segment's documented limits: one event at most 32 KB, one batch at most 500 KB.
OMNITRAIL_MAX_EVENT_BYTES = env.int("OMNITRAIL_MAX_EVENT_BYTES", default=32 * 1024)
OMNITRAIL_MAX_BATCH_BYTES = env.int("OMNITRAIL_MAX_BATCH_BYTES", default=500 * 1024)
# Django reads at most this much of a request body; compressed batches stay well under it.
DATA_UPLOAD_MAX_MEMORY_SIZE = 4 * OMNITRAIL_MAX_BATCH_BYTES
# Events per second one source may send before it gets 429; a source may override it.
OMNITRAIL_DEFAULT_RATE_LIMIT = env.int("OMNITRAIL_DEFAULT_RATE_LIMIT", default=20_000)
# Each web process keeps a write key's source this many seconds (0: asks every time), so
# single-event requests cost no query for it; a disabled source or a rotated key stops
# working within it in the other processes (at once in the one that changed it).
OMNITRAIL_SOURCE_MEMO_SECONDS = env.float("OMNITRAIL_SOURCE_MEMO_SECONDS", default=2.0)
# Stored batches are handed on to identity through one Redis list and a drain task that
# merges them (cdp.services.handoff), rather than one Celery chain per request.
OMNITRAIL_COALESCE_HANDOFF = env.bool("OMNITRAIL_COALESCE_HANDOFF", default=True)
# Traits that identify a person, for events that carry neither userId nor anonymousId
# (files from POS and CRM systems).
OMNITRAIL_IDENTIFIER_TRAITS = env.list(
    "OMNITRAIL_IDENTIFIER_TRAITS", default=["email", "phone", "loyalty_id", "crm_id"]
)
# Region assumed for phone numbers written without a country code.
OMNITRAIL_DEFAULT_PHONE_REGION = env.str("OMNITRAIL_DEFAULT_PHONE_REGION", default="US")
# Identity guardrails: the most values of each kind one profile may hold. A join that
# would exceed them is refused and recorded (a shared email must not merge strangers).
OMNITRAIL_IDENTIFIER_LIMITS = env.json(
    "OMNITRAIL_IDENTIFIER_LIMITS",
    default={
        "user_id": 1,
        "loyalty_id": 2,
        "crm_id": 5,
        "email": 5,
        "phone": 5,
        "device_id": 10,
        "anonymous_id": 500,
    },
)
# Distinct profiles an identifier may conflict with before it is quarantined.
OMNITRAIL_QUARANTINE_AFTER = env.int("OMNITRAIL_QUARANTINE_AFTER", default=3)
# Kinds from strongest to weakest: an event belongs where its strongest identifier is.
OMNITRAIL_IDENTIFIER_PRIORITY = env.list(
    "OMNITRAIL_IDENTIFIER_PRIORITY",
    default=[
        "user_id",
        "crm_id",
        "loyalty_id",
        "email",
        "phone",
        "hashed_email",
        "device_id",
        "anonymous_id",
    ],
)
# Values never used to join profiles, whatever their kind (more in the admin: Blocked values).
OMNITRAIL_IDENTIFIER_BLOCKLIST = env.list(
    "OMNITRAIL_IDENTIFIER_BLOCKLIST",
    default=[
        "test@test.com",
        "test@example.com",
        "noreply@example.com",
        "a@a.com",
        "unknown",
        "anonymous",
        "guest",
        "00000000-0000-0000-0000-000000000000",
        "+10000000000",
    ],
)
# Golden-record rule per trait ("*" for the rest): most_recent, most_frequent, source_priority.
OMNITRAIL_TRAIT_RULES = env.json("OMNITRAIL_TRAIT_RULES", default={"*": "most_recent"})
# Source names, most trusted first, for traits under the source_priority rule.
OMNITRAIL_SOURCE_PRIORITY = env.list("OMNITRAIL_SOURCE_PRIORITY", default=["crm", "pos"])
# The site's own domains: a referrer on one of them is a page of the site, not a referral.
OMNITRAIL_OWN_DOMAINS = env.list("OMNITRAIL_OWN_DOMAINS", default=[])
# Key of the HMAC that erased identifiers are kept under (the suppression list). Set it
# once and keep it: with another key, later events of erased people are not recognised.
# Unset, it is derived from DJANGO_SECRET_KEY.
OMNITRAIL_SUPPRESSION_KEY = env.str("OMNITRAIL_SUPPRESSION_KEY", default="")
# Probabilistic matching (Splink): pairs at or above the merge threshold merge; pairs
# between the review and merge thresholds wait for staff in the review queue. 0.8 keeps
# pairwise precision at 0.997 or more on FEBRL1 and the labelled generator (docs/identity.md).
OMNITRAIL_MATCH_MERGE_THRESHOLD = env.float("OMNITRAIL_MATCH_MERGE_THRESHOLD", default=0.8)
OMNITRAIL_MATCH_REVIEW_THRESHOLD = env.float("OMNITRAIL_MATCH_REVIEW_THRESHOLD", default=0.5)
# duckdb (in-process, default) or spark (pip install pyspark; for data beyond one machine).
OMNITRAIL_MATCH_BACKEND = env.str("OMNITRAIL_MATCH_BACKEND", default="duckdb")
# DuckDB memory per worker process; it spills to disk beyond this.
OMNITRAIL_MATCH_MEMORY_LIMIT = env.str("OMNITRAIL_MATCH_MEMORY_LIMIT", default="2GB")
# An incremental run also rescores touchpoints resolved this long before the last run
# started (longer than any ingest transaction), so none committed meanwhile is missed.
OMNITRAIL_MATCH_OVERLAP_SECONDS = env.int("OMNITRAIL_MATCH_OVERLAP_SECONDS", default=120)
# Seed of the random sampling in training, so a retrain on the same data is repeatable.
OMNITRAIL_MATCH_SEED = env.int("OMNITRAIL_MATCH_SEED", default=42)
# How many unresolved touchpoints one identity task takes at a time.
OMNITRAIL_RESOLVE_CHUNK = env.int("OMNITRAIL_RESOLVE_CHUNK", default=5_000)
# --- Tracking plans (cdp/tracking_plans/) ---
# A violation (source, event, property, kind) first seen within this many days is shown as new.
OMNITRAIL_TRACKING_PLAN_NEW_DAYS = env.int("OMNITRAIL_TRACKING_PLAN_NEW_DAYS", default=7)
# --- web ---
# CORS on the tracking endpoints (django-cors-headers), for websites sending from their
# own origin: any origin may send (a source's allowed_origins narrows it, checked in the
# view, 403 otherwise); the headers analytics.js and RudderStack's SDK send; preflights
# cached by the browser for a day. Nothing else (the native API, the pages) gets CORS.
CORS_URLS_REGEX = r"^/(v1|beacon/v1)/"
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_CREDENTIALS = True
CORS_ALLOW_METHODS = ("POST", "OPTIONS")
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "content-encoding",
    "anonymousid",
    "user-agent",
    "x-requested-with",
)
CORS_PREFLIGHT_MAX_AGE = env.int("OMNITRAIL_CORS_MAX_AGE", default=86_400)
# Proxies (addresses or networks) whose X-Forwarded-For is believed for an event's IP;
# from anyone else the connection's own address is the client's.
OMNITRAIL_TRUSTED_PROXIES = env.list("OMNITRAIL_TRUSTED_PROXIES", default=[])
# Drop the host part of every IP (IPv4's last octet, IPv6's last 80 bits) before storing.
OMNITRAIL_ANONYMIZE_IP = env.bool("OMNITRAIL_ANONYMIZE_IP", default=False)
# The largest amount (revenue, total, value, price) believed; beyond it: null + warning.
OMNITRAIL_MAX_AMOUNT = env.str("OMNITRAIL_MAX_AMOUNT", default="1000000000")
# Bots' and crawlers' events are stored and counted, but attribution leaves them out
# unless this is on.
OMNITRAIL_ATTRIBUTE_BOTS = env.bool("OMNITRAIL_ATTRIBUTE_BOTS", default=False)
# A body inflated (gzip, deflate) past this is refused with 413 (a gzip bomb).
OMNITRAIL_MAX_INFLATED_BYTES = env.int("OMNITRAIL_MAX_INFLATED_BYTES", default=4 * 1024 * 1024)
# Rejected bodies kept per source and hour, each cut to this many bytes; the rest are
# only counted (IngestCount "rejected_body_dropped").
OMNITRAIL_REJECTED_BODIES_PER_HOUR = env.int("OMNITRAIL_REJECTED_BODIES_PER_HOUR", default=200)
OMNITRAIL_REJECTED_BODY_BYTES = env.int("OMNITRAIL_REJECTED_BODY_BYTES", default=8 * 1024)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}

# --- ops ---
# A cache that does not answer must not hold a request: ingestion goes on without it
# (the rate limit fails open, the suppression check reads the database), after at most
# this many seconds of waiting on the connection.
OMNITRAIL_CACHE_TIMEOUT_SECONDS = env.float("OMNITRAIL_CACHE_TIMEOUT_SECONDS", default=1.0)
if REDIS_URL:
    CACHES["default"]["OPTIONS"] = {
        "socket_connect_timeout": OMNITRAIL_CACHE_TIMEOUT_SECONDS,
        "socket_timeout": OMNITRAIL_CACHE_TIMEOUT_SECONDS,
    }
# The Splink run lock (identity.tasks) is a lease of this many seconds, renewed every
# third of it while the run lives: a killed worker's lock lapses within it.
OMNITRAIL_MATCH_LEASE_SECONDS = env.int("OMNITRAIL_MATCH_LEASE_SECONDS", default=30)
# A task of a worker killed outright (not its pool child) is redelivered by Redis after
# this many seconds: longer than a task may take to be acknowledged.
CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] = env.int(
    "OMNITRAIL_BROKER_VISIBILITY_TIMEOUT", default=3600
)
# File destinations write segment exports (emails, phones) only inside this folder; a
# destination's path is a folder within it.
OMNITRAIL_EXPORT_DIR = env.str("OMNITRAIL_EXPORT_DIR", default=str(BASE_DIR / "var" / "exports"))
# Login throttling (django-axes) on every Django login, /admin/ and /app/ alike: after
# this many wrong passwords for one username from one address, that pair is locked out
# (HTTP 429) for OMNITRAIL_LOGIN_COOLOFF_MINUTES. `manage.py axes_reset` lifts locks.
INSTALLED_APPS += ["axes"]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("OMNITRAIL_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.int("OMNITRAIL_LOGIN_COOLOFF_MINUTES", default=15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Where the client's address is read: REMOTE_ADDR; behind a proxy that sets it, add
# HTTP_X_FORWARDED_FOR first (trusting it elsewhere lets a client pick its address).
AXES_IPWARE_META_PRECEDENCE_ORDER = env.list("OMNITRAIL_CLIENT_IP_HEADERS", default=["REMOTE_ADDR"])
# HTTPS, set from the environment behind TLS (`manage.py check --deploy` is clean with
# OMNITRAIL_HTTPS=true): HSTS, the redirect to https and secure cookies. Off by default
# so that the embedded quick start on http://localhost works.
OMNITRAIL_HTTPS = env.bool("OMNITRAIL_HTTPS", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=OMNITRAIL_HTTPS)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=OMNITRAIL_HTTPS)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=OMNITRAIL_HTTPS)
# One year once on; start lower (e.g. 3600) when first trying HSTS on a domain.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if OMNITRAIL_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=OMNITRAIL_HTTPS)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=OMNITRAIL_HTTPS)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (else the redirect loops).
if env.bool("OMNITRAIL_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# /healthz answers plain http probes from inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- activation ---
# Event streams: new touchpoints forwarded every minute (also after each ingested batch),
# and stream batches whose scheduled retry was lost sent again.
CELERY_BEAT_SCHEDULE["streams-forward"] = {
    "task": "attribution.tasks.forward_streams",
    "schedule": crontab(minute="*"),
}
CELERY_BEAT_SCHEDULE["streams-due-batches"] = {
    "task": "attribution.tasks.send_due_stream_batches",
    "schedule": crontab(minute="*"),
}
# The likelihood-to-purchase model retrained on the night's history, every profile scored.
CELERY_BEAT_SCHEDULE["traits-purchase-model"] = {
    "task": "attribution.tasks.train_purchase_model",
    "schedule": crontab(minute=0, hour=4),
}

# --- admin ---
# The currency money is shown in where the data names none (ISO 4217 code).
OMNITRAIL_CURRENCY = env.str("OMNITRAIL_CURRENCY", default="USD")
# The locale numbers and money are formatted for (Babel locale name).
OMNITRAIL_NUMBER_LOCALE = env.str("OMNITRAIL_NUMBER_LOCALE", default="en_US")
# The file name of an access request's download starts with this (then id and date).
OMNITRAIL_ACCESS_ZIP_PREFIX = env.str("OMNITRAIL_ACCESS_ZIP_PREFIX", default="omnitrail-access")

# --- schema ---
# The native API's schema documents the error answers of every operation (cdp/api/schema.py) ...
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "cdp.api.schema.OmnitrailAutoSchema"
# ... and a query parameter it does not name for the operation is refused with 400.
MIDDLEWARE += ["cdp.api.schema.reject_unknown_parameters"]
# Choice fields of the same name in several serializers, each named for its model.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    "SourceKindEnum": "cdp.models.SourceKind",
    "DataSubjectRequestKindEnum": "consent.models.DataSubjectRequest.Kind",
    "MatchReviewStatusEnum": "identity.models.MatchReview.Status",
    "ConsentStatusEnum": "consent.models.ConsentRecord.Status",
    "DataSubjectRequestStatusEnum": "consent.models.DataSubjectRequest.Status",
}
# Request and response bodies as separate components: read-only fields only in answers.
SPECTACULAR_SETTINGS["COMPONENT_SPLIT_REQUEST"] = True
# The native API is documented as JSON in and out (what every client and example sends).
SPECTACULAR_SETTINGS["PARSER_WHITELIST"] = ["rest_framework.parsers.JSONParser"]
# --- identity ---
# Identifier kinds households share (a landline, a family email): one of them joins two
# profiles in stitching only when their first names do not contradict (nickname, typo,
# initial and swapped names agree; identity.engine.names). Empty: they join regardless.
OMNITRAIL_NAME_CHECKED_KINDS = env.list("OMNITRAIL_NAME_CHECKED_KINDS", default=["phone", "email"])
# --- facts ---
# Bots' and crawlers' touchpoints (cdp enrichment) count in profile facts, computed
# traits and segment event rules only when this is true (docs/activation.md).
OMNITRAIL_SEGMENT_BOTS = env.bool("OMNITRAIL_SEGMENT_BOTS", default=False)
# --- identity ---
# Incremental Splink runs keep the existing records (cleaned, counted, indexed by their
# blocking keys) in the worker's memory between runs, read anew after a full run, a
# retrained model or another worker's run; about 1 GB per million records. False: every
# incremental run reads and cleans all records again (seconds per million).
OMNITRAIL_MATCH_KEEP_RECORDS = env.bool("OMNITRAIL_MATCH_KEEP_RECORDS", default=True)

# --- traits ---
# DuckDB's memory for reducing computed traits column-wise (attribution/traits/
# database.py); past it DuckDB spills its groups to a temporary directory.
OMNITRAIL_TRAITS_DUCKDB_MEMORY = env.str("OMNITRAIL_TRAITS_DUCKDB_MEMORY", default="1GB")
