"""How partial dates, date spans and ranges of figures are written out: template tags in Python rather than
includes, since the list renders one date span per row (25 includes took about 1 ms of the page)."""
from django import template
from django.utils.dates import MONTHS

register = template.Library()


# Django's date formats "j F Y", "F Y" and "Y" (the day without a leading zero, the month's name as translated,
# the year in four digits), written out: its formatter parses the format again for every date, 25 times a page.
def DAY(day):
    return f"{day.day} {MONTHS[day.month]} {day.year:04d}"


def MONTH(day):
    return f"{MONTHS[day.month]} {day.year:04d}"


def YEAR(day):
    return f"{day.year:04d}"


def date_format(day, form):
    return form(day)


@register.simple_tag
def date_span(start, end, precision):
    """An incident's dates as its precision allows: "2020", "March 2021 to May 2021", "around 4 October 2020
    (approximate)"."""
    if not start:
        return "date not established"
    if precision == "year":
        if not end or start.year == end.year:
            return date_format(start, YEAR)
        return f"{date_format(start, YEAR)} to {date_format(end, YEAR)}"
    if precision == "month":
        if not end or (start.year, start.month) == (end.year, end.month):
            return date_format(start, MONTH)
        return f"{date_format(start, MONTH)} to {date_format(end, MONTH)}"
    if precision == "day":
        if not end or start == end:
            return date_format(start, DAY)
        return f"{date_format(start, DAY)} to {date_format(end, DAY)}"
    if not end or start == end:
        text = f"around {date_format(start, DAY)}"
    else:
        text = f"between {date_format(start, DAY)} and {date_format(end, DAY)}"
    return f"{text} (date uncertain)" if precision == "unknown" else f"{text} (approximate)"


@register.simple_tag
def partial_date(value, form):
    """A date given to the year, the month or the day: "2021", "March 2021", "4 March 2021"; or "undated"."""
    if not value:
        return "undated"
    return date_format(value, {"year": YEAR, "month": MONTH}.get(form, DAY))


@register.simple_tag
def figure_range(low, high):
    """A range of figures: "12", "10–15", "at least 3", "up to 40", or "not established"."""
    if low is None and high is None:
        return "not established"
    if high is None:
        return f"at least {low}"
    if low is None:
        return f"up to {high}"
    return str(low) if low == high else f"{low}–{high}"
