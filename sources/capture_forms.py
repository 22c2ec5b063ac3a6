"""The form for attaching archived copies (files and web-archive addresses) to a source."""
from django import forms
from django.utils import timezone

from .models import CaptureMethod


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


class CaptureForm(forms.Form):
    files = MultipleFileField(
        required=False,
        label="Files",
        help_text="PDF, HTML, plain text, JPEG, PNG, WebP, TIFF, WARC or WACZ. Images keep their original "
        "privately; the public sees a copy with all metadata removed.",
    )
    archive_url = forms.URLField(
        required=False, max_length=2000, assume_scheme="https", label="Web-archive copy",
        help_text="Address of a copy in a web archive, if there is one.",
    )
    captured_at = forms.DateTimeField(
        required=False, label="Captured at (UTC)", help_text="When the copy was made; empty means now.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    method = forms.ChoiceField(choices=CaptureMethod.choices, initial=CaptureMethod.UPLOAD)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def clean_archive_url(self):
        url = self.cleaned_data["archive_url"].strip()
        if url and not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError("Only http and https addresses are accepted.")
        if url:
            scheme, rest = url.split(":", 1)
            url = f"{scheme.lower()}:{rest}"
        return url

    def clean_captured_at(self):
        value = self.cleaned_data["captured_at"]
        if value and value > timezone.now() + timezone.timedelta(minutes=5):
            raise forms.ValidationError("A capture cannot be made in the future.")
        return value

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not cleaned.get("files") and not cleaned.get("archive_url"):
            raise forms.ValidationError("Attach a file or give the address of a web-archive copy.")
        return cleaned
