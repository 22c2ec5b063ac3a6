"""Production security settings: the Content Security Policy on every page, pages that need no
inline script or style to work under it, and cookies that only travel over HTTPS.

`manage.py check --deploy` with production settings is tested in test_settings.py.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from tests import factories

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "x" * 20 + "a-long-random-production-secret-key-0123456789",
    "DJANGO_ALLOWED_HOSTS": "archive.example.org",
}
REQUIRED_DIRECTIVES = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "object-src": {"'none'"},
    "frame-ancestors": {"'none'"},
    "base-uri": {"'self'"},
    "form-action": {"'self'"},
}


def production_settings(*names, **env):
    """The values of settings `names` as a production process (no DJANGO_DEBUG) would read them."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST", "ARCHIVE_"))}
    environment.update(PRODUCTION_ENV, DJANGO_SETTINGS_MODULE="archive.settings", **env)
    script = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name) for name in {list(names)!r}}}))"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=environment, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def policy(response):
    header = response.headers.get("Content-Security-Policy", "")
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = set(words[1:])
    return directives


def page_urls():
    """One page of every kind the site has, with content in it."""
    incident = factories.published_incident(title="Shelling of the market")
    source = incident.allegations.first().citations.first().source
    urls = [
        reverse("incidents:list"), reverse("incidents:detail", args=[incident.pk]),
        reverse("review:history", args=[incident.pk]), reverse("sources:list"),
        reverse("sources:detail", args=[source.pk]), reverse("login"),
    ]
    return urls + [reverse(name) for name in ("finding:balance", "finding:map", "finding:timeline")]


@pytest.mark.django_db
def test_every_page_carries_the_content_security_policy(client):
    for url in page_urls():
        response = client.get(url)
        assert response.status_code == 200, url
        directives = policy(response)
        for name, sources in REQUIRED_DIRECTIVES.items():
            assert directives.get(name) == sources, (url, name, directives.get(name))
        assert {"'self'", "data:"} <= directives["img-src"], url
        assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]


@pytest.mark.django_db
def test_error_pages_and_refusals_carry_the_policy_too(client, no_role_user):
    client.force_login(no_role_user)
    for url, status in [("/incidents/999999/", 404), (reverse("incidents:create"), 403)]:
        response = client.get(url)
        assert response.status_code == status
        assert policy(response)["script-src"] == {"'self'"}


def test_the_map_tile_server_is_allowed_as_an_image_source():
    values = production_settings(
        "CONTENT_SECURITY_POLICY", ARCHIVE_MAP_TILES="https://{s}.tiles.example.net/osm/{z}/{x}/{y}.png"
    )
    img_src = values["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["img-src"]
    assert img_src == ["'self'", "data:", "https://*.tiles.example.net"]


def test_a_tile_server_on_this_site_adds_no_image_source():
    values = production_settings("CONTENT_SECURITY_POLICY", ARCHIVE_MAP_TILES="/tiles/{z}/{x}/{y}.png")
    assert values["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["img-src"] == ["'self'", "data:"]


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)


def inline_code(text):
    return [pattern.pattern for pattern in (INLINE_SCRIPT, INLINE_STYLE, EVENT_HANDLER, JAVASCRIPT_URL)
            if pattern.search(text)]


def test_no_template_has_inline_script_style_or_event_handlers_the_policy_would_block():
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in sorted((ROOT / "templates").rglob("*.html"))
        if (found := inline_code(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


@pytest.mark.django_db
def test_no_rendered_page_has_inline_script_or_style(client, researcher):
    urls = page_urls()
    client.force_login(researcher)
    urls += [reverse("incidents:create"), reverse("sources:create")]
    for url in urls:
        response = client.get(url)
        assert inline_code(response.text) == [], url


@pytest.mark.django_db
def test_a_form_refused_for_its_missing_csrf_token_says_nothing_was_saved_without_inline_style(researcher):
    client = Client(enforce_csrf_checks=True)
    client.force_login(researcher)

    response = client.post(reverse("sources:create"), {"title": "Forged"})

    assert response.status_code == 403
    assert "Nothing was saved." in response.text
    assert inline_code(response.text) == []
    assert policy(response)["style-src"] == {"'self'"}


def test_the_inline_code_check_can_fail():
    assert inline_code('<p style="color:red">') and inline_code("<script>alert(1)</script>")
    assert inline_code('<a href="javascript:alert(1)">') and inline_code('<img src=x onerror="alert(1)">')
    assert not inline_code('<script src="/static/js/map.js" defer></script><script type="application/json">[]</script>')


def test_production_cookies_are_secure_and_the_session_cookie_is_not_readable_by_scripts():
    values = production_settings(
        "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS", "DEBUG",
    )
    assert values == {
        "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True, "SESSION_COOKIE_HTTPONLY": True,
        "SECURE_SSL_REDIRECT": True, "SECURE_HSTS_SECONDS": 31536000, "DEBUG": False,
    }


def test_development_cookies_work_over_plain_http_so_the_check_above_means_something():
    values = production_settings("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", DJANGO_DEBUG="1")
    assert values == {"SESSION_COOKIE_SECURE": False, "CSRF_COOKIE_SECURE": False}


@pytest.mark.django_db
def test_the_cookies_set_at_sign_in_are_marked_secure(client, researcher):
    page = client.get(reverse("login"))
    signed_in = client.post(reverse("login"), {"username": "rita", "password": "correct horse battery staple"})

    assert page.cookies["csrftoken"]["secure"] is True
    assert signed_in.status_code == 302
    session = signed_in.cookies["sessionid"]
    assert session["secure"] is True and session["httponly"] is True
    assert signed_in.cookies["csrftoken"]["secure"] is True
