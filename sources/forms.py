"""The source form: validates a source (and optionally a new organization) for sources.services."""
import re

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from archive.dates import FutureDateError, PartialDateError, format_partial, parse_past

from .models import Organization, OrganizationKind, Reliability, Source, SourceKind

# A scheme followed by "//" or by something other than a port number ("example.org:8080" has none).
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):(?!\d+(?:/|$))")


class SourceForm(forms.Form):
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.order_by("name"), required=False, empty_label="Choose an organization",
        help_text="Who published the document.",
    )
    new_organization_name = forms.CharField(
        label="Or a new organization", required=False, max_length=200,
        help_text="If the organization is not in the list, write its name as it names itself.",
    )
    new_organization_kind = forms.ChoiceField(
        label="Kind of the new organization", choices=OrganizationKind.choices, initial=OrganizationKind.UNKNOWN,
        required=False,
    )
    new_organization_is_party_affiliated = forms.BooleanField(
        label="The new organization is party-affiliated", required=False,
        help_text="Tick when it is a party to the conflict, its officials, state media or an affiliated body.",
    )
    title = forms.CharField(required=False, max_length=500, help_text="Title of the document as published.")
    kind = forms.ChoiceField(choices=SourceKind.choices, initial=SourceKind.REPORT)
    published = forms.CharField(label="Publication date", required=False, help_text="YYYY-MM-DD, YYYY-MM or YYYY.")
    url = forms.CharField(
        label="URL", required=False, max_length=2000, widget=forms.URLInput,
        help_text="http(s) address of the document, or of the copy that was read.",
    )
    language = forms.CharField(required=False, max_length=35, help_text="Language tag, e.g. en, hy, az, ru.")
    reliability = forms.ChoiceField(
        label="Reliability of the source", required=False, choices=[("", "Not graded")] + Reliability.choices,
        help_text="Optional grade of the source itself (HURIDOCS scale). An allegation's confidence is graded "
        "separately, on the allegation.",
    )

    PUBLISHER_FIELDS = ["organization", "new_organization_name", "new_organization_kind",
                        "new_organization_is_party_affiliated"]

    def publisher_fields(self):
        return [self[name] for name in self.PUBLISHER_FIELDS]

    def document_fields(self):
        return [self[name] for name in self.fields if name not in self.PUBLISHER_FIELDS]

    def clean_url(self):
        url = self.cleaned_data["url"]
        if not url:
            return ""
        match = _SCHEME.match(url)
        if match is None:
            url = f"https://{url}"
        elif match.group(1).lower() not in ("http", "https"):
            raise ValidationError("Give an http:// or https:// address.", code="scheme")
        else:
            url = match.group(1).lower() + url[len(match.group(1)):]
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise ValidationError("This is not a web address; give one like https://example.org/report.",
                                  code="invalid") from None
        return url

    def clean_published(self):
        text = self.cleaned_data["published"]
        if not text:
            return None, ""
        try:
            first, _last, form = parse_past(text)
        except FutureDateError:
            raise ValidationError(
                "This date is in the future. Give the date on which the source was published "
                "(dates up to tomorrow are accepted, for time zones ahead of UTC).",
                code="future_date",
            ) from None
        except PartialDateError:
            raise ValidationError(
                "Write the date as YYYY-MM-DD, YYYY-MM or YYYY (a real date after 1800), e.g. 2020-10-04."
            ) from None
        return first, form

    def clean_new_organization_name(self):
        name = self.cleaned_data["new_organization_name"]
        if name and Organization.objects.filter(name__iexact=name).exists():
            raise ValidationError(f"{name} is already in the list of organizations; choose it there.")
        return name

    def clean(self):
        cleaned = super().clean()
        if "new_organization_name" not in cleaned:
            return cleaned
        chosen, new = cleaned.get("organization"), cleaned.get("new_organization_name")
        if chosen and new:
            self.add_error("new_organization_name", "Choose an organization from the list or name a new one, not both.")
        elif not chosen and not new:
            self.add_error("organization", "Choose the organization that published the source, or name a new one.")
        self._check_model()
        return cleaned

    def _check_model(self):
        """Run the model's own checks before anything is written, so a new organization is not left behind."""
        if "published" not in self.cleaned_data:
            return
        try:
            Source(**self.source_values(organization=None)).full_clean(exclude=["organization", "created_by"])
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                field = {"published_on": "published", "published_form": "published"}.get(name, name)
                if field in self.fields and field not in self.errors:
                    self.add_error(field, messages)
                elif field not in self.fields:
                    self.add_error(None, messages)

    def source_values(self, organization):
        data = self.cleaned_data
        published_on, published_form = data.get("published") or (None, "")
        return {
            "organization": organization, "title": data.get("title", ""), "kind": data.get("kind") or SourceKind.REPORT,
            "published_on": published_on, "published_form": published_form, "url": data.get("url", ""),
            "language": data.get("language", ""), "reliability": data.get("reliability", ""),
        }

    def new_organization(self):
        """(name, kind, is_party_affiliated) when the user named a new organization, else None."""
        data = self.cleaned_data
        if not data.get("new_organization_name"):
            return None
        return data["new_organization_name"], data.get("new_organization_kind") or "unknown", \
            data["new_organization_is_party_affiliated"]

    def add_errors(self, error):
        for name, messages in error.message_dict.items():
            field = "published" if name in ("published_on", "published_form") else name
            self.add_error(field if field in self.fields else None, messages)

    @staticmethod
    def initial_for(source):
        return {
            "organization": source.organization_id, "title": source.title, "kind": source.kind,
            "published": format_partial(source.published_on, source.published_form), "url": source.url,
            "language": source.language, "reliability": source.reliability,
        }
