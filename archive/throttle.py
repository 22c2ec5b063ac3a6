"""Sign-in throttling: after repeated failures, refuse further attempts without checking them.

ARCHIVE_LOGIN_MAX_FAILURES failed sign-ins (default 5) within
ARCHIVE_LOGIN_WINDOW_SECONDS (default 900) for the same username, or from the
same address, pause sign-in for that username or address until the oldest of
those failures leaves the window. A refused attempt is neither checked (so it
cannot confirm a guessed password) nor counted (so retrying does not prolong
the pause). The failure that starts a lockout writes "auth.login_throttled" to
the audit log; a successful sign-in forgets that username's failures.

Failures are rows of `LoginFailure`, so every worker process sees the same
counts. Both sign-in pages use this: /accounts/login/ answers 429, the admin's
shows the same message as a form error.
"""
import datetime
import ipaddress
import math

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from . import audit
from .models import LoginFailure

THROTTLED_ACTION = "auth.login_throttled"


def max_failures():
    return int(getattr(settings, "ARCHIVE_LOGIN_MAX_FAILURES", 5))


def window():
    return datetime.timedelta(seconds=int(getattr(settings, "ARCHIVE_LOGIN_WINDOW_SECONDS", 900)))


def username_key(username):
    """The username as counted: case-folded, trimmed, without NUL (PostgreSQL cannot store it)."""
    return (username or "").replace("\x00", "").strip().casefold()[:150]


def client_ip(request):
    """The client's address; behind a proxy (DJANGO_BEHIND_PROXY), the one the proxy appended.

    An IPv6 client is counted by its /64 network, which one machine can roam freely.
    """
    address = request.META.get("REMOTE_ADDR", "")
    if getattr(settings, "ARCHIVE_BEHIND_PROXY", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded.strip():
            address = forwarded.split(",")[-1].strip()
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address)
    return str(ip)


def _recent(**where):
    return LoginFailure.objects.filter(at__gte=timezone.now() - window(), **where)


def _seconds_left(**where):
    """How long until fewer than the limit of failures remain in the window, or 0."""
    limit = max_failures()
    times = list(_recent(**where).order_by("-at").values_list("at", flat=True)[:limit])
    if len(times) < limit:
        return 0
    return max(1, math.ceil((times[-1] + window() - timezone.now()).total_seconds()))


def seconds_locked(username, ip):
    """Seconds until sign-in as `username` from `ip` is allowed again; 0 when it is allowed now."""
    key = username_key(username)
    return max(_seconds_left(username=key) if key else 0, _seconds_left(ip=ip) if ip else 0)


@transaction.atomic
def record_failure(username, ip):
    """Count a failed sign-in; the failure that reaches the limit is a lockout, kept in the audit log."""
    now, limit, key = timezone.now(), max_failures(), username_key(username)
    LoginFailure.objects.filter(at__lt=now - window()).delete()
    LoginFailure.objects.create(username=key, ip=ip, at=now)
    locked = []
    if key and _recent(username=key).count() == limit:
        locked.append("username")
    if ip and _recent(ip=ip).count() == limit:
        locked.append("ip")
    if locked:
        audit.record(actor=None, action=THROTTLED_ACTION, scope="auth", changes={
            "username": key, "ip": ip, "locked": locked, "failures": limit,
            "window_seconds": int(window().total_seconds()),
        })
    return locked


@transaction.atomic
def forget_failures(username):
    LoginFailure.objects.filter(username=username_key(username)).delete()


def refusal_message(seconds):
    minutes = max(1, math.ceil(seconds / 60))
    return (f"Too many failed sign-in attempts for this username or from your network. Sign-in is paused: "
            f"try again in {minutes} minute{'s' if minutes != 1 else ''}. This attempt was not checked.")


class ThrottledFormMixin:
    """Refuse before authenticating while locked out; count failed passwords; forget them on success."""

    throttled = False
    retry_after = 0

    def clean(self):
        username = self.data.get(self.add_prefix("username"), "")
        ip = client_ip(self.request) if self.request is not None else None
        seconds = seconds_locked(username, ip)
        if seconds:
            self.throttled, self.retry_after = True, seconds
            raise ValidationError(refusal_message(seconds), code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError as error:
            if getattr(error, "code", None) == "invalid_login":
                record_failure(username, ip)
            raise
        if self.get_user() is not None:
            forget_failures(username)
        return cleaned


class ThrottledAuthenticationForm(ThrottledFormMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottledFormMixin, AdminAuthenticationForm):
    pass


class LoginView(auth_views.LoginView):
    """Django's sign-in page, answering 429 (with Retry-After) while sign-in is paused."""

    form_class = ThrottledAuthenticationForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttled:
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response
