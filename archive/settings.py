"""Settings for Incident Archive, read from the environment.

One module for every deployment: development, tests, CI and production differ
only in environment variables (listed in README.md).
"""
import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ARCHIVE_VAR_DIR", BASE_DIR / "var"))


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def database_from_url(url):
    """Translate a DATABASE_URL into a Django DATABASES entry.

    sqlite:///relative/path, sqlite:////absolute/path, postgres://user:pw@host:port/name.
    """
    parsed = urlparse(url)
    scheme = parsed.scheme
    if scheme == "sqlite":
        path = unquote(parsed.path[1:] if parsed.path.startswith("/") else parsed.path)
        if not path:
            raise ImproperlyConfigured("DATABASE_URL sqlite:/// needs a file path")
        return sqlite_database(path if path == ":memory:" else Path(path))
    if scheme in {"postgres", "postgresql", "pgsql"}:
        options = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")) or "postgres",
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": int(os.environ.get("DJANGO_CONN_MAX_AGE", "60")),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
            "TEST": {"NAME": os.environ.get("DJANGO_TEST_DATABASE_NAME") or None},
        }
    raise ImproperlyConfigured(f"DATABASE_URL scheme {scheme!r} is not supported (sqlite or postgres)")


def sqlite_database(path):
    test = {}
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        # Tests that run threads need a database file they can all open (an
        # in-memory one is private to its connection); one per test run, so
        # that two runs side by side do not delete each other's.
        test = {"NAME": path.parent / f"test-{os.getpid()}-{path.name}"}
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "TEST": test,
        "OPTIONS": {
            # Writers queue for the lock instead of failing, and take it at BEGIN
            # so a read-then-write transaction never deadlocks on upgrade.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA foreign_keys=ON;"
                "PRAGMA busy_timeout=20000;"
            ),
        },
    }


DEBUG = env_bool("DJANGO_DEBUG")
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and not os.environ.get("PYTEST_VERSION"):
        raise ImproperlyConfigured("Set DJANGO_SECRET_KEY (or DJANGO_DEBUG=1 for development).")
    SECRET_KEY = "insecure-development-key-never-use-in-production"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_filters",
    "archive",
    "sources",
    "incidents",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "archive.urls"
WSGI_APPLICATION = "archive.wsgi.application"

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
                "archive.context_processors.role_flags",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", "")
DATABASES = {
    "default": database_from_url(DATABASE_URL) if DATABASE_URL else sqlite_database(VAR_DIR / "archive.sqlite3")
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", VAR_DIR / "staticfiles"))
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
# Files are never served from MEDIA_URL: every download goes through a view
# that checks who may see it.
MEDIA_URL = "/media-not-served/"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "incidents:list"
LOGOUT_REDIRECT_URL = "incidents:list"

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

SECURE = not DEBUG and env_bool("DJANGO_SECURE", True)
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = SECURE and env_bool("DJANGO_SSL_REDIRECT", True)
# Behind a proxy: trust its X-Forwarded-Proto, and take the client's address from the
# last X-Forwarded-For entry (the one the proxy appended) for sign-in throttling.
ARCHIVE_BEHIND_PROXY = env_bool("DJANGO_BEHIND_PROXY")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if ARCHIVE_BEHIND_PROXY else None
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000" if SECURE else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
}

# Uploads: the largest file accepted, how many files one request may carry,
# and the pixel cap that refuses decompression bombs.
ARCHIVE_MAX_UPLOAD_BYTES = int(os.environ.get("ARCHIVE_MAX_UPLOAD_BYTES", str(50 * 1024 * 1024)))
DATA_UPLOAD_MAX_NUMBER_FILES = int(os.environ.get("ARCHIVE_MAX_FILES_PER_REQUEST", "20"))
ARCHIVE_MAX_IMAGE_PIXELS = int(os.environ.get("ARCHIVE_MAX_IMAGE_PIXELS", str(40_000_000)))

# The column copy (incidents.columnar): the facts of every record incident held in memory by each process, to
# count the filters the running totals do not answer. "background": read in a thread of its own when a page
# first needs it, and whole again after a write that may change many incidents (the pages count in SQL meanwhile);
# "inline": read in the request; "off": never.
ARCHIVE_COLUMNAR = os.environ.get("ARCHIVE_COLUMNAR", "background")

# Page sizes of the incident list.
ARCHIVE_PAGE_SIZE = int(os.environ.get("ARCHIVE_PAGE_SIZE", "25"))

# Map tiles: any {z}/{x}/{y} tile server (a self-hosted one where OpenStreetMap's
# usage policy or the users' safety calls for it). The map's points work without tiles.
ARCHIVE_MAP_TILES = os.environ.get("ARCHIVE_MAP_TILES", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
ARCHIVE_MAP_ATTRIBUTION = os.environ.get(
    "ARCHIVE_MAP_ATTRIBUTION", '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)


# Sign-in throttling (archive.throttle): this many failures for one username, or from one
# address, within the window pause sign-in for it until the oldest leaves the window.
ARCHIVE_LOGIN_MAX_FAILURES = int(os.environ.get("ARCHIVE_LOGIN_MAX_FAILURES", "5"))
ARCHIVE_LOGIN_WINDOW_SECONDS = int(os.environ.get("ARCHIVE_LOGIN_WINDOW_SECONDS", "900"))


def tile_source(url):
    """The CSP source of a {z}/{x}/{y} tile URL: its origin, with a {s} subdomain as a wildcard."""
    parsed = urlparse(url or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return []
    return [f"{parsed.scheme}://{parsed.netloc.replace('{s}', '*')}"]


# Content Security Policy (django-csp): scripts, styles and everything else from this site
# only; images also as data: URLs and from the map's tile server. Pages carry no inline
# script or style attribute (tests/test_security_settings.py checks the templates).
# Downloads of stored files send their own stricter policy (sources.capture_views).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "img-src": [SELF, "data:", *tile_source(ARCHIVE_MAP_TILES)],
        "script-src": [SELF],
        "style-src": [SELF],
        "object-src": [NONE],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
    },
}
