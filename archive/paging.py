"""Pages of long lists whose total is known without counting the rows a second time."""
from django.core.paginator import Page, Paginator
from django.db.models import Count, Window


class CountedPaginator(Paginator):
    """A paginator told its total, so that a page does not count the same rows twice."""

    def __init__(self, object_list, per_page, count):
        super().__init__(object_list, per_page)
        self._known_count = count

    @property
    def count(self):
        return self._known_count


def page_with_total(rows, number, per_page):
    """The Page `number` (the request's text) of `rows` with their total from the same statement.

    `rows` is a grouped (values() and an aggregate), ordered queryset; each of its rows carries the number of
    rows in all (COUNT(*) OVER (), computed after the grouping), so one pass finds the page and the total, where
    Paginator counts in one statement and reads the page in another. Like `Paginator.get_page()`, a page that is
    not a whole number shows the first page, one past either end the last. The Page's rows are dicts of
    `rows`' values, without the total."""
    rows = rows.annotate(rows_in_all=Window(Count("*")))
    try:
        number = int(number) if number is not None else 1
    except (TypeError, ValueError):
        number = 1
    found = list(rows[(number - 1) * per_page:number * per_page]) if number >= 1 else []
    if not found and number != 1:
        # Past either end: the first row tells how many there are, and so which page is the last.
        first = list(rows[:1])
        total = first[0]["rows_in_all"] if first else 0
        number = max(1, -(-total // per_page))
        found = list(rows[(number - 1) * per_page:number * per_page]) if total else []
    total = found[0]["rows_in_all"] if found else 0
    for row in found:
        del row["rows_in_all"]
    return Page(found, number, CountedPaginator(rows, per_page, total))
