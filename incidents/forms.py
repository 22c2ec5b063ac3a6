"""The incident entry form: the incident, its allegations and, within each, its citations.

Forms here only validate. They never save: the view passes what they clean to
`services.record_incident` / `services.edit_incident`, which write and audit.

Every select draws on a `Catalog` loaded once per request (`Options.load()`),
so a page with twenty allegation rows and sixty citation rows still asks the
database once per taxonomy, not once per select.
"""
import re
from dataclasses import dataclass

from django import forms
from django.core import signing
from django.core.exceptions import ValidationError
from django.forms.formsets import DELETION_FIELD_NAME
from django.forms.utils import ErrorDict

from archive.dates import FutureDateError, PartialDateError, format_partial, parse_past
from sources.models import Source, Stance

from .documents import AllegationData, CitationData, date_text, sha256_of
from .models import (
    Confidence,
    Conflict,
    DatePrecision,
    Incident,
    Party,
    Place,
    Side,
    ViolationType,
    Visibility,
    WeaponType,
    reference_code_validator,
)

# PositiveIntegerField's upper bound on every supported database.
MAX_COUNT = 2_147_483_647
MAX_ALLEGATIONS = 50
MAX_CITATIONS = 50
DATE_HELP = "YYYY-MM-DD, YYYY-MM or YYYY."


class Catalog:
    """Objects for one select, with their labels, loaded once."""

    def __init__(self, objects, label_of=str):
        self.by_pk = {str(obj.pk): obj for obj in objects}
        self.choices = [(pk, label_of(obj)) for pk, obj in self.by_pk.items()]


def _party_label(party):
    return f"{party.name} ({party.side.name})" if party.side_id else party.name


def _weapon_label(weapon):
    return f"{weapon.name} (cluster munition)" if weapon.is_cluster_munition == "yes" else weapon.name


def _source_label(source):
    date = format_partial(source.published_on, source.published_form)
    title = source.title or source.url or "untitled"
    affiliated = ", party-affiliated" if source.organization.is_party_affiliated else ""
    return f"{source.organization.name}{affiliated}: {title}" + (f" ({date})" if date else "")


@dataclass
class Options:
    places: Catalog
    conflicts: Catalog
    parties: Catalog
    sides: Catalog
    violation_types: Catalog
    weapons: Catalog
    sources: Catalog

    @classmethod
    def load(cls):
        return cls(
            places=Catalog(Place.objects.order_by("name", "admin_area", "id")),
            conflicts=Catalog(Conflict.objects.order_by("name")),
            parties=Catalog(Party.objects.select_related("side").order_by("name"), _party_label),
            sides=Catalog(Side.objects.order_by("name")),
            violation_types=Catalog(ViolationType.objects.order_by("name")),
            weapons=Catalog(WeaponType.objects.order_by("name"), _weapon_label),
            sources=Catalog(
                Source.objects.select_related("organization").order_by("organization__name", "-published_on", "id"),
                _source_label,
            ),
        )


def _pk(value):
    return getattr(value, "pk", value)


class ObjectChoiceField(forms.ChoiceField):
    """A select whose value is an object of a Catalog, found without a query."""

    def __init__(self, catalog, *, blank_label="—", **kwargs):
        self.catalog = catalog
        super().__init__(choices=[("", blank_label), *catalog.choices], **kwargs)

    def prepare_value(self, value):
        return _pk(value)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return self.catalog.by_pk[str(value)]
        except KeyError:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice",
                                  params={"value": value}) from None

    def validate(self, value):
        forms.Field.validate(self, value)

    def has_changed(self, initial, data):
        return str(_pk(initial) or "") != str(data or "")


class ObjectMultipleChoiceField(forms.MultipleChoiceField):
    def __init__(self, catalog, **kwargs):
        self.catalog = catalog
        super().__init__(choices=catalog.choices, required=False, **kwargs)

    def prepare_value(self, value):
        return [_pk(item) for item in value] if isinstance(value, (list, tuple)) else value

    def to_python(self, value):
        objects = []
        for item in super().to_python(value):
            try:
                objects.append(self.catalog.by_pk[item])
            except KeyError:
                raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice",
                                      params={"value": item}) from None
        return objects

    def validate(self, value):
        forms.Field.validate(self, value)

    def has_changed(self, initial, data):
        return super().has_changed(self.prepare_value(initial or []), data)


class PartialDateField(forms.CharField):
    """A date as sources give it; cleans to (first_day, last_day, form) or None."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", DATE_HELP)
        super().__init__(required=False, **kwargs)

    def clean(self, value):
        text = super().clean(value)
        if not text:
            return None
        try:
            return parse_past(text)
        except FutureDateError:
            raise ValidationError(
                "This date is in the future. Give the date on which the incident happened "
                "(dates up to tomorrow are accepted, for time zones ahead of UTC).",
                code="future_date",
            ) from None
        except PartialDateError:
            raise ValidationError(
                "Write the date as YYYY-MM-DD, YYYY-MM or YYYY (a real date after 1800), e.g. 2020-10-04.",
                code="invalid_date",
            ) from None


def _count_field(label):
    return forms.IntegerField(label=label, required=False, min_value=0, max_value=MAX_COUNT)


# The written form a precision asks for; approximate and unknown accept any.
_FORM_FOR_PRECISION = {"day": ("day", "YYYY-MM-DD"), "month": ("month", "YYYY-MM"), "year": ("year", "YYYY")}


class IncidentForm(forms.Form):
    reference_code = forms.CharField(
        max_length=64, validators=[reference_code_validator], help_text=Incident._meta.get_field("reference_code").help_text
    )
    title = forms.CharField(max_length=300, help_text=Incident._meta.get_field("title").help_text)
    summary = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 6}), help_text=Incident._meta.get_field("summary").help_text
    )
    date_start = PartialDateField(label="Start date")
    date_end = PartialDateField(label="End date", help_text=DATE_HELP + " Leave empty when the incident ends in the period of its start date.")
    date_precision = forms.ChoiceField(
        label="Date precision", choices=DatePrecision.choices, initial=DatePrecision.DAY,
        help_text="Day, month and year need dates written in that form; approximate is a range bounding an unknown date.",
    )
    location_detail = forms.CharField(
        label="Location detail", required=False, max_length=300,
        help_text=Incident._meta.get_field("location_detail").help_text,
    )
    civilians_killed_min = _count_field("Civilians killed (at least)")
    civilians_killed_max = _count_field("Civilians killed (at most)")
    civilians_injured_min = _count_field("Civilians injured (at least)")
    civilians_injured_max = _count_field("Civilians injured (at most)")
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.PUBLIC)

    def __init__(self, *args, options, incident=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.incident = incident
        self.fields["conflict"] = ObjectChoiceField(options.conflicts, required=False, blank_label="Not assigned")
        self.fields["place"] = ObjectChoiceField(
            options.places, blank_label="Choose a place",
            help_text="Places and their coordinates are kept by administrators; ask one to add a missing place.",
        )
        self.order_fields(["reference_code", "conflict", "title", "summary", "date_start", "date_end", "date_precision",
                           "place", "location_detail"])
        if incident is not None and (incident.is_working_copy or incident.status in ("published", "withdrawn")):
            # The reference code is the stable key of a published record; a revision cannot change it.
            self.fields["reference_code"].disabled = True
            self.fields["reference_code"].help_text = "The reference code of a published incident does not change."

    def clean_reference_code(self):
        code = self.cleaned_data["reference_code"]
        taken = Incident.objects.records().filter(reference_code=code)
        if self.incident is not None:
            taken = taken.exclude(pk=self.incident.record_id)
        if taken.exists():
            raise ValidationError(f"Another incident already has the reference code {code}.", code="duplicate")
        return code

    def clean(self):
        cleaned = super().clean()
        self._check_range("civilians_killed")
        self._check_range("civilians_injured")
        self._check_dates(cleaned.get("date_start"), cleaned.get("date_end"), cleaned.get("date_precision"))
        return cleaned

    def _check_range(self, prefix):
        low, high = self.cleaned_data.get(f"{prefix}_min"), self.cleaned_data.get(f"{prefix}_max")
        if low is not None and high is not None and low > high:
            self.add_error(f"{prefix}_max", f"The upper figure ({high}) is below the lower figure ({low}).")

    def _check_dates(self, start, end, precision):
        if "date_start" in self.errors or "date_end" in self.errors or precision is None:
            return
        if start is None:
            if precision != DatePrecision.UNKNOWN:
                self.add_error("date_start", "Give a start date, or set the date precision to unknown.")
            if end is not None:
                self.add_error("date_end", "An end date needs a start date.")
            return
        if end is not None and end[1] < start[0]:
            self.add_error("date_end", "The end date is before the start date.")
        if precision in _FORM_FOR_PRECISION:
            form, pattern = _FORM_FOR_PRECISION[precision]
            for name, value in (("date_start", start), ("date_end", end)):
                if value is not None and value[2] != form:
                    self.add_error(name, f"With {precision} precision, write the date as {pattern}; "
                                         "or choose the precision that matches the date.")

    def incident_fields(self):
        """The cleaned values in the shape the services take."""
        data = self.cleaned_data
        start, end = data["date_start"], data["date_end"]
        fields = {name: data[name] for name in (
            "reference_code", "conflict", "title", "summary", "date_precision", "place", "location_detail",
            "civilians_killed_min", "civilians_killed_max", "civilians_injured_min", "civilians_injured_max",
            "visibility",
        )}
        fields["date_start"] = start[0] if start else None
        fields["date_end"] = (end or start)[1] if start else None
        return fields

    @staticmethod
    def initial_for(incident):
        initial = {name: getattr(incident, name) for name in (
            "reference_code", "title", "summary", "date_precision", "location_detail", "civilians_killed_min",
            "civilians_killed_max", "civilians_injured_min", "civilians_injured_max", "visibility",
        )}
        initial.update(
            conflict=incident.conflict_id, place=incident.place_id,
            date_start=date_text(incident, "start"), date_end=date_text(incident, "end"),
        )
        return initial


class CitationForm(forms.Form):
    locator = forms.CharField(required=False, max_length=200, help_text="Page, paragraph or timestamp.")
    quote = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="Short quote from the source, verbatim."
    )
    stance = forms.ChoiceField(choices=Stance.choices, initial=Stance.SUPPORTS)

    def __init__(self, *args, options, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"] = ObjectChoiceField(
            options.sources, blank_label="Choose a source",
            help_text="A source not in the list? Add it on the new source page first.",
        )
        self.order_fields(["source", "locator", "quote", "stance"])

    def citation_data(self):
        data = self.cleaned_data
        return CitationData(source=data["source"], locator=data["locator"], quote=data["quote"], stance=data["stance"])


class RowsFormSet(forms.BaseFormSet):
    deletion_label = "Remove"

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if DELETION_FIELD_NAME in form.fields:
            form.fields[DELETION_FIELD_NAME].label = self.deletion_label

    def kept_forms(self):
        """Forms that will be saved: filled in (or initial) and not marked for removal."""
        return [
            form for form in self.forms
            if getattr(form, "cleaned_data", None) and not form.cleaned_data.get(DELETION_FIELD_NAME)
        ]


# absolute_max = max_num: a forged TOTAL_FORMS builds at most the forms a user may submit
# (Django's default would build a thousand more, each with its selects, for one request).
class CitationFormSet(forms.formset_factory(
    CitationForm, formset=RowsFormSet, extra=1, can_delete=True, max_num=MAX_CITATIONS, validate_max=True,
    absolute_max=MAX_CITATIONS,
)):
    deletion_label = "Remove this citation"


class AllegationForm(forms.Form):
    affected_party = forms.CharField(
        label="Affected party", required=False, max_length=300, help_text="Who was harmed, as sources describe them."
    )
    summary = forms.CharField(
        label="What is alleged", required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What is alleged, attributed to the source that alleges it.",
    )
    confidence = forms.ChoiceField(
        choices=Confidence.choices, initial=Confidence.SINGLE_SOURCE,
        help_text="Verified: evidence examined by an independent organization. Corroborated: two or more independent "
        "credible sources. Single source: one credible independent source. Party claim: asserted only by a party or "
        "its affiliates. Contested: credible sources disagree. Discounted: examined and found unsupported.",
    )
    party_response = forms.CharField(
        label="Response of the party", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The accused party's response (denial, counter-claim), attributed to who made it.",
    )

    def __init__(self, *args, options, citation_initial=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["perpetrator"] = ObjectChoiceField(
            options.parties, required=False, label="Alleged perpetrator (party)", blank_label="Not attributed to a party",
            help_text="The party the violation is alleged against; leave empty when sources do not name one.",
        )
        self.fields["perpetrator_side"] = ObjectChoiceField(
            options.sides, required=False, label="Side of the alleged perpetrator", blank_label="Not attributed to a side",
            help_text="Filled in from the party when left empty; may be given alone.",
        )
        self.fields["violation_types"] = ObjectMultipleChoiceField(
            options.violation_types, label="Violation types alleged", widget=forms.CheckboxSelectMultiple,
        )
        self.fields["weapons"] = ObjectMultipleChoiceField(
            options.weapons, label="Weapons reported", widget=forms.SelectMultiple(attrs={"size": 6}),
            help_text="Hold Ctrl (Cmd on a Mac) to choose several.",
        )
        self.order_fields(["perpetrator", "perpetrator_side", "affected_party", "violation_types", "weapons", "summary",
                           "confidence", "party_response"])
        self.citations = CitationFormSet(
            self.data if self.is_bound else None, prefix=f"{self.prefix}-citations",
            initial=citation_initial, form_kwargs={"options": options},
        )
        if citation_initial:
            self.citations.extra = 0

    def has_changed(self):
        return super().has_changed() or self.citations.has_changed()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get(DELETION_FIELD_NAME):
            return cleaned
        party, side = cleaned.get("perpetrator"), cleaned.get("perpetrator_side")
        if party is not None and side is not None and party.side_id and party.side_id != side.pk:
            self.add_error("perpetrator_side", f"{party.name} is recorded on the side {party.side.name}, not {side.name}. "
                                               "Leave the side empty or choose the party's side.")
        if not self.citations.is_valid():
            raise ValidationError("Correct the citations of this allegation below.", code="invalid_citations")
        if not self.citations.kept_forms():
            raise ValidationError("Cite at least one source for this allegation.", code="no_citation")
        return cleaned

    def allegation_data(self):
        data = self.cleaned_data
        party = data["perpetrator"]
        return AllegationData(
            perpetrator=party,
            perpetrator_side=data["perpetrator_side"] or (party.side if party is not None else None),
            affected_party=data["affected_party"],
            violation_types=list(data["violation_types"]),
            weapons=list(data["weapons"]),
            summary=data["summary"],
            confidence=data["confidence"],
            party_response=data["party_response"],
            citations=[form.citation_data() for form in self.citations.kept_forms()],
        )

    @staticmethod
    def initial_for(allegation):
        return {
            "perpetrator": allegation.perpetrator_id,
            "perpetrator_side": allegation.perpetrator_side_id,
            "affected_party": allegation.affected_party,
            "violation_types": [v.pk for v in allegation.violation_types.all()],
            "weapons": [w.pk for w in allegation.weapons.all()],
            "summary": allegation.summary,
            "confidence": allegation.confidence,
            "party_response": allegation.party_response,
        }


class BaseAllegationFormSet(RowsFormSet):
    deletion_label = "Remove this allegation"

    def __init__(self, *args, citation_initials=(), **kwargs):
        self.citation_initials = list(citation_initials)
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        kwargs = super().get_form_kwargs(index)
        if index is not None and index < len(self.citation_initials):
            kwargs["citation_initial"] = self.citation_initials[index]
        return kwargs

    def clean(self):
        if not self.kept_forms():
            raise ValidationError("Record at least one allegation, with the source that makes it.", code="no_allegation")


AllegationFormSet = forms.formset_factory(
    AllegationForm, formset=BaseAllegationFormSet, extra=1, can_delete=True, max_num=MAX_ALLEGATIONS, validate_max=True,
    absolute_max=MAX_ALLEGATIONS,
)

ALLEGATION_PREFIX = "allegations"
ADD_ALLEGATION = "add_allegation"
ADD_CITATION = "add_citation"
_ALLEGATION_PREFIX_PATTERN = re.compile(rf"^{ALLEGATION_PREFIX}-(\d+)$")


def _total(data, prefix):
    try:
        return max(0, int(data.get(f"{prefix}-TOTAL_FORMS", "0")))
    except ValueError:
        return 0


def with_more_rows(post):
    """(data, True) with one more empty row where the user pressed an "add" button, else (post, False).

    This is how rows are added without JavaScript: the page is rendered again
    from the submitted data, nothing is saved.
    """
    data = post.copy()
    if ADD_ALLEGATION in post:
        index = _total(data, ALLEGATION_PREFIX)
        if index >= MAX_ALLEGATIONS:
            return data, True
        row = f"{ALLEGATION_PREFIX}-{index}"
        data[f"{ALLEGATION_PREFIX}-TOTAL_FORMS"] = str(index + 1)
        data[f"{row}-confidence"] = Confidence.SINGLE_SOURCE
        data[f"{row}-citations-TOTAL_FORMS"] = "1"
        data[f"{row}-citations-INITIAL_FORMS"] = "0"
        data[f"{row}-citations-0-stance"] = Stance.SUPPORTS
        return data, True
    match = _ALLEGATION_PREFIX_PATTERN.match(post.get(ADD_CITATION, ""))
    if match:
        if int(match.group(1)) < _total(data, ALLEGATION_PREFIX):
            prefix = f"{match.group(0)}-citations"
            index = _total(data, prefix)
            if index < MAX_CITATIONS:
                data[f"{prefix}-TOTAL_FORMS"] = str(index + 1)
                data[f"{prefix}-{index}-stance"] = Stance.SUPPORTS
        return data, True
    return post, False


BASE_SALT = "incidents.edit.base-document"


class IncidentEntry:
    """Everything the incident page submits: the incident form, the allegations and the edit's base document."""

    def __init__(self, data=None, *, options, incident=None, base_document=None):
        self.incident = incident
        initial = IncidentForm.initial_for(incident) if incident is not None else None
        allegation_initial, citation_initials = None, ()
        if incident is not None and data is None:
            allegations = list(incident.allegations.all())
            allegation_initial = [AllegationForm.initial_for(a) for a in allegations]
            citation_initials = [
                [{"source": c.source_id, "locator": c.locator, "quote": c.quote, "stance": c.stance}
                 for c in a.citations.all()]
                for a in allegations
            ]
        self.form = IncidentForm(data, options=options, incident=incident, initial=initial)
        self.allegations = AllegationFormSet(
            data, prefix=ALLEGATION_PREFIX, initial=allegation_initial, citation_initials=citation_initials,
            form_kwargs={"options": options},
        )
        if allegation_initial:
            self.allegations.extra = 0
        self.base_document = base_document
        self.base_error = None
        if incident is not None and data is not None:
            self._read_base(data)

    def _read_base(self, data):
        try:
            document = signing.loads(data.get("base_document", ""), salt=BASE_SALT)
        except signing.BadSignature:
            document = None
        if document is None or sha256_of(document) != data.get("base_sha256"):
            self.base_error = ("This form lost track of the version you started from, so it cannot tell whether "
                               "someone changed the incident meanwhile. Nothing was saved. Copy your changes and "
                               "reopen the edit page.")
            return
        self.base_document = document

    def rebase(self, document):
        """Start from `document` instead: the user has now been shown what changed."""
        self.base_document = document

    @property
    def base_sha256(self):
        return sha256_of(self.base_document) if self.base_document is not None else ""

    @property
    def base_token(self):
        return signing.dumps(self.base_document, salt=BASE_SALT, compress=True) if self.base_document is not None else ""

    def is_valid(self):
        form_valid = self.form.is_valid()
        allegations_valid = self.allegations.is_valid()
        return form_valid and allegations_valid and self.base_error is None

    def incident_fields(self):
        return self.form.incident_fields()

    def allegation_data(self):
        return [form.allegation_data() for form in self.allegations.kept_forms()]

    def add_errors(self, error):
        """Show a model ValidationError raised by the service beside the field it concerns."""
        for name, messages in error.message_dict.items():
            self.form.add_error(name if name in self.form.fields else None, messages)

    def quiet(self):
        """Show the submitted data without judging it: the user only asked for another row."""
        forms_ = [self.form, *self.allegations.forms]
        for allegation in self.allegations.forms:
            forms_ += allegation.citations.forms
            allegation.citations._non_form_errors = allegation.citations.error_class()
            allegation.citations._errors = []
        for form in forms_:
            form._errors = ErrorDict()
        self.allegations._non_form_errors = self.allegations.error_class()
        self.allegations._errors = []
