"""The one FilterSet behind the list page, the exports, the balance view, the map and the timeline.

`filter_incidents(request)` is the only entry point: it scopes the queryset to
what the user may see (`Incident.objects.visible_to(user)`) *before* any
filter runs, so a query string means the same on every page and nothing a
user may not see can reach a list, a count, an export or a chart.

Two levels of filter:

* incident filters (conflict, place, admin_area, dates, killed_min, status, q)
  narrow incidents directly;
* allegation filters (party, side, unattributed, weapon, weapon_category,
  cluster, violation, confidence, organization, organization_kind) are
  combined into ONE condition on Allegation, applied in one `.filter()` call,
  so that they hold for the same allegation (and, for the weapon and citation
  conditions, for the same weapon and the same citation): `party=X&weapon=Y`
  finds incidents where one allegation against X names weapon Y.

Several values of one parameter (`?side=a&side=b`) mean "any of them".
An invalid value gives a form error and no results (never everything, never
a 500); unknown parameters are ignored because only declared fields are read.
"""
import copy
import numbers

import django_filters
from django import forms
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.db.models.functions import Coalesce
from django.db.models.query import QuerySet
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import slugify
from django_filters.fields import ModelChoiceIterator, ModelMultipleChoiceField

from archive import dates, roles
from sources.models import Citation, Organization, OrganizationKind

from . import search
from .models import (
    Allegation,
    Conflict,
    Confidence,
    Incident,
    Party,
    Place,
    Side,
    Status,
    ViolationType,
    WeaponCategory,
    WeaponType,
)
from .taxonomy import key
from .widgets import (
    FastCheckboxSelectMultiple,
    FastNumberInput,
    FastSelect,
    FastSelectMultiple,
    FastTextInput,
)

MAX_VALUES = 50
MAX_LENGTH = 200
INT_MAX = 2_147_483_647

# Every order ends with the id, so pages never overlap. Newest-first is served by an index on both
# databases: (date_start DESC, id DESC) from 0001 on SQLite, and on PostgreSQL (where a descending
# index puts NULL first) incident_newest_first from 0006. Oldest-first scans the same index backwards.
# Pagination is by page number (OFFSET) over that index. Measured with 100,000 incidents: the first
# page takes 1-3 ms and the last about 50 ms (PostgreSQL) or 400 ms (SQLite); sorting by casualties or
# last update has no index and sorts the matching rows (about 50-250 ms).
# The sorts an index keeps the visible incidents in (incident_visible_by_date, incident_date_idx).
WALKABLE_SORTS = {"date", "date_asc", "-date"}
SORTS = {
    "date": (F("date_start").desc(nulls_last=True), F("id").desc()),
    "date_asc": (F("date_start").asc(nulls_last=True), F("id").asc()),
    "-date": (F("date_start").asc(nulls_last=True), F("id").asc()),
    "killed": (
        F("civilians_killed_min").desc(nulls_last=True), F("civilians_killed_max").desc(nulls_last=True),
        F("date_start").desc(nulls_last=True), F("id").desc(),
    ),
    "updated": (F("updated_at").desc(), F("id").desc()),
}
SORT_CHOICES = [
    ("date", "Date, newest first"),
    ("date_asc", "Date, oldest first"),
    ("killed", "Civilians killed, most first"),
    ("updated", "Last updated"),
]
SORT_ALIASES = {"-date": "date_asc"}

INDEPENDENT, PARTY_AFFILIATED = "independent", "party_affiliated"
ORGANIZATION_KIND_CHOICES = [
    (INDEPENDENT, "Independent of the parties"),
    (PARTY_AFFILIATED, "Party-affiliated (a party, its officials or affiliated bodies)"),
    *OrganizationKind.choices,
]


class NamedOptions(ModelChoiceIterator):
    """A model choice field's options as (slug, name) pairs: the filter form's conflicts, sides, parties,
    violation types and organizations are named by their `name`, which is what their `__str__` gives, and
    listed in the order of their names. Building a model instance per option took about 3 ms of every finding page. In a form
    of IncidentFilter, all the lists are read by one statement (`OptionLists`)."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        if self.field.null_label is not None:
            yield (self.field.null_value, self.field.null_label)
        lists = getattr(self.field, "option_lists", None)
        if lists is not None:
            yield from lists.of(self.field)
        else:
            yield from self.queryset.values_list(self.field.to_field_name, "name").order_by("name")


class NamedModelMultipleChoiceField(ModelMultipleChoiceField):
    iterator = NamedOptions

    def __copy__(self):
        """A copy with a widget of its own, whose options are this copy's (and so its form's `OptionLists`)."""
        field = self.__class__.__new__(self.__class__)
        field.__dict__.update(self.__dict__)
        field.widget = copy.copy(self.widget)
        field.widget.choices = self.iterator(field)
        return field


class OptionLists:
    """The options of a form's NamedModelMultipleChoiceFields, read together by one statement when the first is
    drawn: five statements through the ORM took 1 ms of every finding page. A field whose queryset is
    filtered reads its own (the statement reads whole tables)."""

    def __init__(self, fields):
        self.fields = [field for field in fields if not field.queryset.query.where]
        self.lists = None
        for field in self.fields:
            field.option_lists = self

    def of(self, field):
        if self.lists is None:
            self.lists = self._read()
        return self.lists[self.fields.index(field)]

    def _read(self):
        quote = connection.ops.quote_name
        statement = " UNION ALL ".join(
            f"SELECT {index}, {quote(field.queryset.model._meta.get_field(field.to_field_name).column)}, "
            f"{quote(field.queryset.model._meta.get_field('name').column)} "
            f"FROM {quote(field.queryset.model._meta.db_table)}"
            for index, field in enumerate(self.fields)
        )
        lists = [[] for _ in self.fields]
        with connection.cursor() as cursor:
            cursor.execute(f"{statement} ORDER BY 1, 3")
            for index, value, name in cursor.fetchall():
                lists[index].append((value, name))
        return lists


class NamedModelMultipleChoiceFilter(django_filters.ModelMultipleChoiceFilter):
    """Several slugs of a model named by its `name` (`NamedOptions`)."""

    field_class = NamedModelMultipleChoiceField


class RepeatedTextInput(forms.Widget):
    """One text box per value given (`?place=a&place=b`), and an empty one to add a value."""

    input_type = "text"

    def value_from_datadict(self, data, files, name):
        return data.getlist(name) if hasattr(data, "getlist") else data.get(name)

    def value_omitted_from_data(self, data, files, name):
        return name not in data

    def render(self, name, value, attrs=None, renderer=None):
        if isinstance(value, (list, tuple)):
            values = [str(v) for v in value if v]
        else:
            values = [str(value)] if value else []
        attrs = {**self.attrs, **(attrs or {})}
        base_id = attrs.get("id") or f"id_{name}"
        label = attrs.get("data-label") or name
        described = attrs.get("aria-describedby", "")
        boxes = []
        for index, text in enumerate(values + [""]):
            # The first box has the field's <label>; the others name themselves, for screen readers.
            if index == 0:
                box_id, own_label = base_id, ""
            else:
                box_id = f"{base_id}_{index}"
                own_label = f"{label}, another value" if index == len(values) else f"{label}, value {index + 1}"
            boxes.append(format_html(
                '<input type="text" name="{}" value="{}" id="{}"{}{}>', name, text, box_id,
                format_html(' aria-label="{}"', own_label) if own_label else "",
                format_html(' aria-describedby="{}"', described) if described else "",
            ))
        return mark_safe(" ".join(boxes))


class RepeatedTextField(forms.Field):
    """Several values as repeated parameters, blanks dropped, at most MAX_VALUES."""

    widget = RepeatedTextInput

    def widget_attrs(self, widget):
        return {**super().widget_attrs(widget), "data-label": str(self.label or "")}

    def to_python(self, value):
        if value in (None, "", [], ()):
            return []
        values = [value] if isinstance(value, str) else list(value)
        values = [v.strip() for v in values if v and v.strip()]
        if len(values) > MAX_VALUES:
            raise forms.ValidationError(f"Give at most {MAX_VALUES} values.", code="too_many")
        for text in values:
            ProhibitNullCharactersValidator()(text)
            if len(text) > MAX_LENGTH:
                raise forms.ValidationError(f"A value can be at most {MAX_LENGTH} characters long.", code="too_long")
        return values


class TaxonomyLookupField(RepeatedTextField):
    """Values that name taxonomy entries by slug, name or alias (case-insensitive); cleans to a list of entries."""

    def __init__(self, *, model, noun, **kwargs):
        self.model, self.noun = model, noun
        super().__init__(**kwargs)

    def clean(self, value):
        names = self.to_python(value)
        found, unknown = [], []
        for name in names:
            matches = self.lookup(name)
            if not matches:
                unknown.append(name)
            found += [entry for entry in matches if entry not in found]
        if unknown:
            raise forms.ValidationError(
                "No %(noun)s is known by the name or slug %(names)s.",
                code="unknown",
                params={"noun": self.noun, "names": ", ".join(repr(n) for n in unknown)},
            )
        return found

    def lookup(self, name):
        wanted = key(name)
        candidates = self.model.objects.filter(
            Q(slug=name) | Q(slug=name.lower()) | Q(name__iexact=name) | Q(aliases__icontains=name)
        ).order_by("pk")
        return [
            entry for entry in candidates
            if wanted in {key(entry.slug), key(entry.name), *(key(alias) for alias in entry.alias_list())}
        ]


class TaxonomyLookupFilter(django_filters.Filter):
    field_class = TaxonomyLookupField


class AdminAreaField(RepeatedTextField):
    """Admin areas are free text on places: match them case-insensitively, or by their slug."""

    def clean(self, value):
        values = super().clean(value)
        if not values:
            return []
        known = Place.objects.exclude(admin_area="").values_list("admin_area", flat=True).distinct()
        by_key = {}
        for area in known:
            by_key.setdefault(key(area), set()).add(area)
            by_key.setdefault(slugify(area), set()).add(area)
        found, unknown = set(), []
        for text in values:
            areas = by_key.get(key(text), set()) | by_key.get(slugify(text), set())
            if not areas:
                unknown.append(text)
            found |= areas
        if unknown:
            raise forms.ValidationError(
                "No place is in an admin area called %(names)s.", code="unknown",
                params={"names": ", ".join(repr(n) for n in unknown)},
            )
        return sorted(found)


class AdminAreaFilter(django_filters.Filter):
    field_class = AdminAreaField


class PartialDateField(forms.CharField):
    """YYYY-MM-DD, YYYY-MM or YYYY; cleans to (first_day, last_day, form) or None."""

    def clean(self, value):
        text = super().clean(value)
        if not text:
            return None
        try:
            return dates.parse(text)
        except dates.PartialDateError:
            raise forms.ValidationError(
                "Write the date as YYYY-MM-DD, YYYY-MM or YYYY (a real date after 1800), e.g. 2020-10.",
                code="invalid_date",
            ) from None


class PartialDateFilter(django_filters.Filter):
    field_class = PartialDateField


class CountFilter(django_filters.Filter):
    """A whole number of people (django-filter's NumberFilter would accept 2.5)."""

    field_class = forms.IntegerField


def overlapping(first=None, last=None):
    """Incidents whose date span overlaps first..last (either may be None); unknown dates never match.

    An incident's span is date_start..date_end; without an end it is the day,
    month or year of its start, as its precision says.
    """
    condition = Q(date_start__isnull=False)
    if last is not None:
        condition &= Q(date_start__lte=last)
    if first is not None:
        open_end = (
            Q(date_precision="month", date_start__gte=first.replace(day=1))
            | Q(date_precision="year", date_start__gte=first.replace(month=1, day=1))
            | (~Q(date_precision__in=["month", "year"]) & Q(date_start__gte=first))
        )
        condition &= Q(date_end__gte=first) | (Q(date_end__isnull=True) & open_end)
    return condition


class ShallowlyCopied(dict):
    """Filters or form fields that `copy.deepcopy()` copies one level deep (see IncidentFilter)."""

    def __deepcopy__(self, memo):
        return {name: copy.copy(value) for name, value in self.items()}


class IncidentFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label="Words", max_length=500, widget=FastTextInput,
        help_text="Every word must appear in the title, summaries, allegation text or quoted sources.",
    )
    conflict = NamedModelMultipleChoiceFilter(
        queryset=Conflict.objects.order_by("name"), to_field_name="slug", label="Conflict", widget=FastSelectMultiple
    )
    side = NamedModelMultipleChoiceFilter(
        queryset=Side.objects.order_by("name"), to_field_name="slug", label="Alleged against side",
        widget=FastSelectMultiple,
    )
    party = NamedModelMultipleChoiceFilter(
        queryset=Party.objects.order_by("name"), to_field_name="slug", label="Alleged against party",
        widget=FastSelectMultiple,
    )
    unattributed = django_filters.ChoiceFilter(
        choices=[("yes", "Only allegations attributed to no party or side")], empty_label="Any attribution",
        label="Unattributed", widget=FastSelect,
    )
    violation = NamedModelMultipleChoiceFilter(
        queryset=ViolationType.objects.order_by("name"), to_field_name="slug", label="Violation",
        widget=FastSelectMultiple,
    )
    weapon = TaxonomyLookupFilter(
        model=WeaponType, noun="weapon type", label="Weapon",
        help_text="Slug, name or any name sources use, e.g. lar-160, Smerch, BM-21 Grad.",
    )
    weapon_category = django_filters.MultipleChoiceFilter(
        choices=WeaponCategory.choices, label="Weapon category", widget=FastSelectMultiple
    )
    cluster = django_filters.ChoiceFilter(
        choices=[("yes", "Cluster munitions only")], empty_label="Any weapon", label="Cluster munitions",
        widget=FastSelect,
    )
    confidence = django_filters.MultipleChoiceFilter(
        choices=Confidence.choices, widget=FastCheckboxSelectMultiple, label="Confidence of the allegation"
    )
    organization = NamedModelMultipleChoiceFilter(
        queryset=Organization.objects.order_by("name"), to_field_name="slug", label="Cited organization",
        widget=FastSelectMultiple,
    )
    organization_kind = django_filters.MultipleChoiceFilter(
        choices=ORGANIZATION_KIND_CHOICES, label="Kind of cited organization", widget=FastSelectMultiple
    )
    place = TaxonomyLookupFilter(
        model=Place, noun="place", label="Place", help_text="Slug or any of its names, e.g. Stepanakert or Khankendi."
    )
    admin_area = AdminAreaFilter(label="District or region")
    date_from = PartialDateFilter(label="From", max_length=10, widget=FastTextInput, help_text="YYYY-MM-DD, YYYY-MM or YYYY")
    date_to = PartialDateFilter(label="To", max_length=10, widget=FastTextInput, help_text="An incident matches when its dates overlap the range.")
    killed_min = CountFilter(
        label="At least this many civilians killed", min_value=0, max_value=INT_MAX, widget=FastNumberInput,
        help_text="Counts the lower figure of each incident's range.",
    )
    status = django_filters.MultipleChoiceFilter(
        choices=Status.choices, widget=FastCheckboxSelectMultiple, label="Review status"
    )
    sort = django_filters.ChoiceFilter(choices=SORT_CHOICES, empty_label=None, label="Sort by", widget=FastSelect)

    ALLEGATION_FIELDS = (
        "side", "party", "unattributed", "violation", "weapon", "weapon_category", "cluster", "confidence",
        "organization", "organization_kind",
    )

    class Meta:
        model = Incident
        fields = []

    def __init__(self, data=None, queryset=None, *, user=None, **kwargs):
        if data is not None and data.get("sort") in SORT_ALIASES:
            data = data.copy()
            data["sort"] = SORT_ALIASES[data["sort"]]
        super().__init__(data=data, queryset=queryset, **kwargs)
        self.user = user
        if user is None or not roles.sees_restricted(user):
            # For everyone else every incident they may see is published: the
            # parameter is dropped, not validated, so it cannot reveal anything.
            del self.filters["status"]

    # One form class per set of filters (the public's has no status), built once: its fields come from the
    # filters' declarations alone. django-filter builds the fields and the class again for every request
    # (0.5 ms of each finding page). Each form copies the fields one level deep (`ShallowlyCopied`) where
    # Django's deep copy took 0.4 ms: nothing changes a field, its widget or its choices once the class is
    # built, and a model field's options are read from a new queryset each time (`NamedOptions`).
    _form_classes = {}

    def get_form_class(self):
        names = tuple(self.filters)
        form_class = self._form_classes.get(names)
        if form_class is None:
            form_class = self._form_classes[names] = super().get_form_class()
            form_class.base_fields = ShallowlyCopied(form_class.base_fields)
        return form_class

    @property
    def form(self):
        if not hasattr(self, "_form"):
            form = super().form
            OptionLists([field for field in form.fields.values() if isinstance(field, NamedModelMultipleChoiceField)])
        return self._form

    # --- conditions -------------------------------------------------------

    @property
    def data_valid(self):
        return self.is_bound and self.form.is_valid()

    def cleaned(self):
        return self.form.cleaned_data if self.data_valid else {}

    def incident_condition(self):
        data, condition = self.cleaned(), Q()
        if _given(data.get("conflict")):
            condition &= Q(conflict__in=data["conflict"])
        if data.get("place"):
            condition &= Q(place__in=data["place"])
        if data.get("admin_area"):
            condition &= Q(place__admin_area__in=data["admin_area"])
        start, end = data.get("date_from"), data.get("date_to")
        if start or end:
            condition &= overlapping(start[0] if start else None, end[1] if end else None)
        if data.get("killed_min") is not None:
            condition &= Q(civilians_killed_min__gte=int(data["killed_min"]))
        if data.get("status"):
            condition &= Q(status__in=data["status"])
        return condition

    def allegation_condition(self):
        """One condition on Allegation for every allegation-level filter given (empty Q when none)."""
        data = self.cleaned()
        condition = _own_columns(data)
        if _given(data.get("violation")):
            condition &= Q(violation_types__in=data["violation"])
        return condition & _weapon_condition(data, "weapons") & _citation_condition(data, "citations__source__")

    def allegation_tests(self):
        """The allegation filters as conditions on one allegation row, each multi-valued relation asked by a
        correlated EXISTS of its own link rows (weapons, violation types, citations) rather than joined: for
        testing every allegation (`balance.counted_in_parts()`), where a join would first read the allegation
        again. Conditions on one relation stay in one EXISTS, as in `allegation_condition()`: a weapon of the
        category that is also a cluster munition, a citation of the organization that is also of the kind."""
        data = self.cleaned()
        condition = _own_columns(data)
        if _given(data.get("violation")):
            links = Allegation.violation_types.through.objects.filter(
                allegation_id=OuterRef("pk"), violationtype__in=data["violation"])
            condition &= Q(Exists(links))
        weapon = _weapon_condition(data, "weapontype")
        if weapon:
            condition &= Q(Exists(Allegation.weapons.through.objects.filter(weapon, allegation_id=OuterRef("pk"))))
        cited = _citation_condition(data, "source__")
        if cited:
            condition &= Q(Exists(Citation.objects.filter(cited, allegation_id=OuterRef("pk"))))
        return condition

    def has_allegation_filter(self):
        data = self.cleaned()
        return any(_given(data.get(name)) for name in self.ALLEGATION_FIELDS)

    def sort_key(self):
        return self.cleaned().get("sort") or "date"

    # --- querysets --------------------------------------------------------

    def _narrowed(self, queryset):
        queryset = queryset.filter(self.incident_condition())
        words = self.form.cleaned_data.get("q")
        return search.search(queryset, words) if words else queryset

    def incident_scope(self):
        """Visible incidents narrowed by the incident filters only (the balance view's columns come from here)."""
        return self._narrowed(self.queryset) if self.data_valid else self.queryset.none()

    def filter_queryset(self, queryset):
        if not self.data_valid:
            return queryset.none()
        queryset = self._narrowed(queryset)
        if self.has_allegation_filter():
            matching = Allegation.objects.filter(self.allegation_condition()).values("incident_id")
            queryset = queryset.filter(pk__in=matching)
        return queryset.order_by(*SORTS[self.sort_key()])

    def probed(self):
        """The incidents of `qs`, in the same order, each probed for a matching allegation (a correlated EXISTS)
        rather than gathered from the matching allegations first (`pk IN (...)`); None when there is no
        allegation filter or no index keeps the incidents in the sort's order.

        Walking the list's index and probing finds a page of a filter that matches most incidents after
        reading a few times the page (at 10^5 incidents, the first page of the organization cited most: 0.5 ms
        against 390 ms), where gathering reads and sorts every match; for a filter that matches few, the walk
        reads almost every incident. `page_source()` chooses."""
        if not self.data_valid or not self.has_allegation_filter() or self.sort_key() not in WALKABLE_SORTS:
            return None
        matching = Allegation.objects.filter(self.allegation_condition(), incident_id=OuterRef("pk"))
        return self._narrowed(self.queryset).filter(Exists(matching)).order_by(*SORTS[self.sort_key()])

    def page_source(self, matching, offset, per_page):
        """The queryset a list page at `offset` is read from, given the number of `matching` incidents: `qs`,
        or `probed()` when its walk would read fewer incidents than gathering the matches (the walk reads
        about (offset + per_page) × scope ÷ matching incidents, the scope being the incidents the incident
        filters leave)."""
        probed = self.probed()
        if probed is None or not matching:
            return self.qs
        from .balance import scope_incidents

        return probed if (offset + per_page) * scope_incidents(self) <= matching * matching else self.qs

    def allegations(self):
        """The allegations that match, within the incidents that match (may repeat rows: count distinct ids).

        The allegation condition is applied in one `.filter()` so that a later
        `.values("weapons__category")` or `.values("violation_types__slug")`
        reuses the joins the condition made: it groups by the weapons and
        violation types that satisfied the filter, as the list would.
        """
        return Allegation.objects.filter(within(self.incident_scope())).filter(self.allegation_condition())

    def tested_allegations(self):
        """The allegations that match, each row of the incidents in scope tested once against the allegation
        filters (`allegation_tests()`): no repeated rows, for the live counts that split them by incident ranges."""
        return Allegation.objects.filter(within(self.incident_scope())).filter(self.allegation_tests()).order_by()

    def counts(self, live=False):
        """Result counts for the current filter: incidents, and allegations matching within them.

        Read from the balance's running totals when they answer the filter (`balance.tallied_counts()`), else
        from the column copy when it does (`incidents.columnar`); otherwise, or with `live=True` (the tests compare
        them), counted in SQL.

        Without an allegation filter every allegation of a matching incident matches, and the incidents'
        own allegation_count columns add up to the answer in the same pass that counts them. With one,
        a single pass over the matching allegations counts both (joins may repeat a row: distinct ids); with
        one that may match a large share of them (`balance.broad()`), every allegation is tested, in parts
        counted side by side (`balance.counted_in_parts()`).
        """
        if not self.data_valid:
            return {"incidents": 0, "allegations": 0}
        from . import columnar
        from .balance import broad, counted_in_parts, tallied_counts

        if not live:
            counted = tallied_counts(self)
            if counted is not None:
                return counted
            copy = columnar.current(self)
            if copy is not None:
                return copy.counts(self)
        if not self.has_allegation_filter():
            return self.qs.order_by().aggregate(
                incidents=Count("pk"), allegations=Coalesce(Sum("allegation_count"), 0)
            )
        if broad(self):
            return counted_in_parts(self)
        return self.allegations().order_by().aggregate(
            incidents=Count("incident_id", distinct=True), allegations=Count("pk", distinct=True)
        )

    def active(self):
        """(label, value text) of each filter given, for a sentence above the results."""
        data, shown = self.cleaned(), []
        for name, field in self.form.fields.items():
            value = data.get(name)
            if name == "sort" or not _given(value):
                continue
            shown.append((field.label, _value_text(field, value)))
        return shown


# Each FilterSet copies its class's filters: shallow copies are enough, since a filter's only per-request state
# is the model and filterset django-filter sets on it (the form's fields are copied by the form), and the deep
# copy of the querysets and choices in them took about 0.5 ms of every finding page.
IncidentFilter.base_filters = ShallowlyCopied(IncidentFilter.base_filters)


def _given(value):
    """Whether a cleaned value filters anything (an empty multiple choice cleans to an empty QuerySet)."""
    if value is None:
        return False
    if isinstance(value, (numbers.Number, tuple)):
        return True
    if isinstance(value, QuerySet) and value.query.is_empty():
        return False  # without asking the database for its rows, as bool() would
    return bool(value)


def _value_text(field, value):
    if isinstance(value, tuple) and len(value) == 3:
        return dates.format_partial(value[0], value[2])
    values = value if isinstance(value, (list, tuple)) or hasattr(value, "model") else [value]
    choices = dict(getattr(field, "choices", []) or [])
    return ", ".join(str(choices.get(v, v)) for v in values)


def _organization_kind_condition(values, prefix="citations__source__organization__"):
    """The organization_kind filter as a condition on Allegation (or, with prefix="", on Organization)."""
    condition = Q()
    if INDEPENDENT in values:
        condition |= Q(**{f"{prefix}is_party_affiliated": False})
    if PARTY_AFFILIATED in values:
        condition |= Q(**{f"{prefix}is_party_affiliated": True})
    kinds = [value for value in values if value in OrganizationKind.values]
    if kinds:
        condition |= Q(**{f"{prefix}kind__in": kinds})
    return condition


def _own_columns(data):
    """The allegation filters on an allegation's own columns: side, party, unattributed, confidence."""
    condition = Q()
    if _given(data.get("side")):
        condition &= Q(perpetrator_side__in=data["side"])
    if _given(data.get("party")):
        condition &= Q(perpetrator__in=data["party"])
    if data.get("unattributed") == "yes":
        condition &= Q(perpetrator__isnull=True, perpetrator_side__isnull=True)
    if data.get("confidence"):
        condition &= Q(confidence__in=data["confidence"])
    return condition


def _weapon_condition(data, weapon):
    """The weapon filters as one condition on the weapon type reached by `weapon` (from an allegation, "weapons";
    from its link row, "weapontype"): a type, a category, cluster munitions, all met by the same weapon."""
    condition = Q()
    if data.get("weapon"):
        condition &= Q(**{f"{weapon}__in": data["weapon"]})
    if data.get("weapon_category"):
        condition &= Q(**{f"{weapon}__category__in": data["weapon_category"]})
    if data.get("cluster") == "yes":
        condition &= Q(**{f"{weapon}__is_cluster_munition": "yes"})
    return condition


def _citation_condition(data, source):
    """The organization filters as one condition on the source reached by `source` ("citations__source__" from
    an allegation, "source__" from a citation): an organization, a kind, both met by the same citation."""
    condition = Q()
    if _given(data.get("organization")):
        condition &= Q(**{f"{source}organization__in": data["organization"]})
    if data.get("organization_kind"):
        condition &= _organization_kind_condition(data["organization_kind"], prefix=f"{source}organization__")
    return condition


def within(incidents):
    """A condition on Allegation: its incident is one of `incidents`.

    A correlated EXISTS rather than `incident__in`: SQLite then looks each allegation's incident up by its
    primary key, where IN would first build the list of every matching incident (measured with 100,000
    incidents: 40 ms against 240 ms for the allegations against one side); PostgreSQL plans both as a
    semi-join.
    """
    return Exists(incidents.order_by().filter(pk=OuterRef("incident_id")))


def filter_incidents(request, data=None):
    """(filterset, queryset) for this request: visible incidents, filtered and sorted."""
    filterset = IncidentFilter(
        data if data is not None else request.GET,
        queryset=Incident.objects.visible_to(request.user),
        user=request.user,
    )
    return filterset, filterset.qs


def result_counts(filterset):
    return filterset.counts()


def form_errors_text(filterset):
    """The filter's errors as plain text lines, for the exports' 400 answer."""
    lines = []
    for name, errors in filterset.form.errors.items():
        label = filterset.form.fields[name].label if name in filterset.form.fields else name
        lines += [f"{name} ({label}): {error}" for error in errors]
    return lines

