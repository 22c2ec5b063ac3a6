"""Partial dates as sources give them: YYYY-MM-DD, YYYY-MM or YYYY.

A partial date is stored as the span it covers (first and last day), so that
"2020-10" overlaps any range that touches October 2020.
"""
import calendar
import datetime
import re

_PATTERN = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
EARLIEST = datetime.date(1800, 1, 1)


class PartialDateError(ValueError):
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
