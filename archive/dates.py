"""Partial dates as sources give them: YYYY-MM-DD, YYYY-MM or YYYY.

A partial date is stored as the span it covers (first and last day), so that
"2020-10" overlaps any range that touches October 2020.
"""
import calendar
import datetime
import re

from django.utils import timezone

_PATTERN = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
EARLIEST = datetime.date(1800, 1, 1)


class PartialDateError(ValueError):
    pass


class FutureDateError(PartialDateError):
    pass


def parse(text):
    """Return (first_day, last_day, form) with form one of day, month, year."""
    text = (text or "").strip()
    match = _PATTERN.match(text)
    if not match:
        raise PartialDateError(f"{text!r} is not a date of the form YYYY-MM-DD, YYYY-MM or YYYY")
    year, month, day = (int(part) if part else None for part in match.groups())
    try:
        if day is not None:
            value = datetime.date(year, month, day)
            first, last, form = value, value, "day"
        elif month is not None:
            first = datetime.date(year, month, 1)
            last = datetime.date(year, month, calendar.monthrange(year, month)[1])
            form = "month"
        else:
            first, last, form = datetime.date(year, 1, 1), datetime.date(year, 12, 31), "year"
    except ValueError:
        raise PartialDateError(f"{text!r} is not a real date") from None
    if first < EARLIEST:
        raise PartialDateError(f"{text!r} is before {EARLIEST.year}")
    return first, last, form


def latest_allowed():
    """Tomorrow (UTC): somewhere on Earth it is already tomorrow, but nothing has happened after that."""
    return timezone.now().date() + datetime.timedelta(days=1)


def parse_past(text):
    """`parse()`, refusing a date whose first day is after `latest_allowed()`.

    Incidents and publications are things that happened; a future date is a typo
    (2002 written 2020, a swapped day and month) or a forgery, never a record.
    """
    first, last, form = parse(text)
    if first > latest_allowed():
        raise FutureDateError(f"{(text or '').strip()!r} is in the future; give the date on which it happened")
    return first, last, form


def form_of(first, last):
    """The shortest form that names exactly the span first..last, or day."""
    if first is None:
        return None
    if first == last:
        return "day"
    if first.day == 1 and last == datetime.date(first.year, first.month, calendar.monthrange(first.year, first.month)[1]):
        return "month"
    if (first.month, first.day) == (1, 1) and (last.year, last.month, last.day) == (first.year, 12, 31):
        return "year"
    return "day"


def format_partial(value, form):
    if value is None:
        return ""
    if form == "year":
        return f"{value.year:04d}"
    if form == "month":
        return f"{value.year:04d}-{value.month:02d}"
    return value.isoformat()
