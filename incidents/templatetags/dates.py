"""How partial dates, date spans and ranges of figures are written out: template tags in Python rather than
includes, since the list renders one date span per row (25 includes took about 1 ms of the page)."""
from django import template
from django.utils.dates import MONTHS

register = template.Library()


# Django's date formats "j F Y", "F Y" and "Y" (the day without a leading zero, the month's name as translated,
# the year in four digits), written out: its formatter parses the format again for every date, 25 times a page.
def day_text(day):
    return f"{day.day} {MONTHS[day.month]} {day.year:04d}"


def month_text(day):
    return f"{MONTHS[day.month]} {day.year:04d}"


def year_text(day):
    return f"{day.year:04d}"


@register.simple_tag
def date_span(start, end, precision):
    """An incident's dates as its precision allows: "2020", "March 2021 to May 2021", "around 4 October 2020
    (approximate)"."""
    if not start:
        return "date not established"
    if precision == "year":
        if not end or start.year == end.year:
            return year_text(start)
        return f"{year_text(start)} to {year_text(end)}"
    if precision == "month":
        if not end or (start.year, start.month) == (end.year, end.month):
            return month_text(start)
        return f"{month_text(start)} to {month_text(end)}"
    if precision == "day":
        if not end or start == end:
            return day_text(start)
        return f"{day_text(start)} to {day_text(end)}"
    if not end or start == end:
        text = f"around {day_text(start)}"
    else:
        text = f"between {day_text(start)} and {day_text(end)}"
    return f"{text} (date uncertain)" if precision == "unknown" else f"{text} (approximate)"


@register.simple_tag
def partial_date(value, form):
    """A date given to the year, the month or the day: "2021", "March 2021", "4 March 2021"; or "undated"."""
    if not value:
        return "undated"
    return {"year": year_text, "month": month_text}.get(form, day_text)(value)


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
