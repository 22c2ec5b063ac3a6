"""How dates, date spans and ranges of figures read on the pages (incidents/templatetags/dates.py)."""
from datetime import date

import pytest
from django.template import Context, Template

D = date


def rendered(text, **context):
    return Template("{% load dates %}" + text).render(Context(context))


@pytest.mark.parametrize("start, end, precision, expected", [
    (None, None, "day", "date not established"),
    (D(2020, 10, 4), None, "day", "4 October 2020"),
    (D(2020, 10, 4), D(2020, 10, 4), "day", "4 October 2020"),
    (D(2020, 10, 4), D(2020, 10, 6), "day", "4 October 2020 to 6 October 2020"),
    (D(2021, 3, 1), D(2021, 3, 31), "month", "March 2021"),
    (D(2021, 3, 1), None, "month", "March 2021"),
    (D(2021, 3, 1), D(2021, 5, 31), "month", "March 2021 to May 2021"),
    (D(2020, 3, 1), D(2021, 3, 31), "month", "March 2020 to March 2021"),
    (D(2019, 1, 1), D(2019, 12, 31), "year", "2019"),
    (D(2019, 1, 1), D(2021, 12, 31), "year", "2019 to 2021"),
    (D(2020, 9, 27), None, "approximate", "around 27 September 2020 (approximate)"),
    (D(2020, 9, 27), D(2020, 11, 10), "approximate", "between 27 September 2020 and 10 November 2020 (approximate)"),
    (D(2020, 9, 27), D(2020, 9, 27), "unknown", "around 27 September 2020 (date uncertain)"),
    (D(2020, 9, 27), D(2020, 11, 10), "unknown", "between 27 September 2020 and 10 November 2020 (date uncertain)"),
])
def test_date_span(start, end, precision, expected):
    assert rendered("{% date_span start end precision %}", start=start, end=end, precision=precision) == expected


@pytest.mark.parametrize("value, form, expected", [
    (None, "day", "undated"),
    (D(2021, 3, 4), "year", "2021"),
    (D(2021, 3, 4), "month", "March 2021"),
    (D(2021, 3, 4), "day", "4 March 2021"),
])
def test_partial_date(value, form, expected):
    assert rendered("{% partial_date value form %}", value=value, form=form) == expected


@pytest.mark.parametrize("low, high, expected", [
    (None, None, "not established"),
    (3, None, "at least 3"),
    (None, 40, "up to 40"),
    (0, 0, "0"),
    (12, 12, "12"),
    (10, 15, "10–15"),
])
def test_figure_range(low, high, expected):
    assert rendered("{% figure_range low high %}", low=low, high=high) == expected


@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_the_formats_written_out_are_djangos(language):
    from django.utils import translation
    from django.utils.dateformat import format as django_format

    from incidents.templatetags import dates

    days = [D(2020, month, day) for month in range(1, 13) for day in (1, 9, 28)] + [D(999, 1, 5), D(1850, 12, 31)]
    with translation.override(language):
        for day in days:
            assert dates.day_text(day) == django_format(day, "j F Y")
            assert dates.month_text(day) == django_format(day, "F Y")
            assert dates.year_text(day) == django_format(day, "Y")
