"""Reporting organizations, the documents they publish, and citations of them."""
from django.conf import settings
from django.db import models
from django.db.models import Q

from .querysets import CaptureQuerySet, SourceQuerySet


class OrganizationKind(models.TextChoices):
    NGO = "ngo", "Non-governmental organization"
    IGO = "igo", "Intergovernmental organization (UN, OSCE, ...)"
    MEDIA = "media", "News media"
    GOVERNMENT = "government", "Government or state body"
    ARMED_GROUP = "armed_group", "Armed group or de facto authority"
    ACADEMIC = "academic", "Academic or research body"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Not yet classified"


class Organization(models.Model):
    name = models.CharField(max_length=200, unique=True, help_text="As the organization names itself.")
    slug = models.SlugField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=OrganizationKind, default=OrganizationKind.UNKNOWN)
    is_party_affiliated = models.BooleanField(
        default=False,
        help_text="Tick when the organization is a party to the conflict, its officials, state media or an "
        "affiliated body, so that its claims are shown as partisan.",
    )
    affiliation = models.CharField(
        max_length=200, blank=True, help_text="Which party or side it is affiliated with, and how we know."
    )
    website = models.URLField(blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=OrganizationKind.values), name="organization_kind_valid"),
        ]

    def __str__(self):
        return self.name


class SourceKind(models.TextChoices):
    REPORT = "report", "Report"
    PRESS_RELEASE = "press_release", "Press release"
    ARTICLE = "article", "Article"
    VIDEO = "video", "Video"
    PHOTO = "photo", "Photo"
    SATELLITE_IMAGE = "satellite_image", "Satellite image"
    TESTIMONY = "testimony", "Testimony"
    OFFICIAL_STATEMENT = "official_statement", "Official statement"
    DATASET = "dataset", "Dataset"


class DateForm(models.TextChoices):
    DAY = "day", "Day"
    MONTH = "month", "Month"
    YEAR = "year", "Year"


def http_url_condition(field):
    return Q(**{field: ""}) | Q(**{f"{field}__startswith": "http://"}) | Q(**{f"{field}__startswith": "https://"})


class Reliability(models.TextChoices):
    """HURIDOCS-style reliability of a source, separate from an allegation's confidence grade."""

    HIGHLY_RELIABLE = "highly_reliable", "Highly reliable"
    GENERALLY_RELIABLE = "generally_reliable", "Generally reliable"
    FAIRLY_RELIABLE = "fairly_reliable", "Fairly reliable"
    NOT_USUALLY_RELIABLE = "not_usually_reliable", "Not usually reliable"
    UNRELIABLE = "unreliable", "Unreliable"
    UNKNOWN = "unknown", "Reliability cannot be judged"


class Source(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="sources")
    title = models.CharField(max_length=500, blank=True, help_text="Title of the document as published.")
    kind = models.CharField(max_length=20, choices=SourceKind, default=SourceKind.REPORT)
    published_on = models.DateField(null=True, blank=True, help_text="First day of the publication date given.")
    published_form = models.CharField(
        max_length=5, choices=DateForm, blank=True, help_text="How precise the publication date is."
    )
    url = models.URLField(
        max_length=2000, blank=True, help_text="http(s) address of the document, or of the copy that was read."
    )
    language = models.CharField(max_length=35, blank=True, help_text="Language tag, e.g. en, hy, az, ru.")
    reliability = models.CharField(
        max_length=25, choices=Reliability, blank=True,
        help_text="Optional grade of the source itself; an allegation's confidence is graded separately.",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    public = models.BooleanField(
        default=False, editable=False,
        help_text="Cited by a published, public incident, so the public may read it (kept by the services: "
                  "sources.publicity).",
    )

    objects = SourceQuerySet.as_manager()

    class Meta:
        ordering = ["organization__name", "-published_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=SourceKind.values), name="source_kind_valid"),
            models.CheckConstraint(
                condition=Q(reliability="") | Q(reliability__in=Reliability.values), name="source_reliability_valid"
            ),
            models.CheckConstraint(condition=http_url_condition("url"), name="source_url_http"),
            models.CheckConstraint(
                condition=(Q(published_on__isnull=True, published_form="")
                           | Q(published_on__isnull=False, published_form__in=DateForm.values)),
                name="source_published_form_matches_date",
            ),
        ]
        indexes = [
            models.Index(fields=["url"], name="source_url_idx"),
            # The list reads each organization's sources newest first, a page at a time (sources.views); for the
            # public only the public sources (partial: SQLite then reads `WHERE public` from it, as Django writes it).
            models.Index(fields=["organization", "-published_on", "id"], condition=Q(public=True),
                         name="source_public_listing"),
            models.Index(fields=["organization", "-published_on", "id"], name="source_listing"),
        ]

    def __str__(self):
        return f"{self.organization}: {self.title or self.url or 'untitled'}"


class Stance(models.TextChoices):
    SUPPORTS = "supports", "Supports the allegation"
    DISPUTES = "disputes", "Disputes the allegation"


class Citation(models.Model):
    """A source cited for an allegation, with where in it and what it says."""

    # Indexed with the source (Meta.indexes): the balance reads each allegation's citations' sources from the
    # index alone.
    allegation = models.ForeignKey(
        "incidents.Allegation", on_delete=models.CASCADE, related_name="citations", db_index=False
    )
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="citations")
    locator = models.CharField(max_length=200, blank=True, help_text="Page, paragraph or timestamp.")
    quote = models.TextField(blank=True, help_text="Short quote from the source, verbatim.")
    stance = models.CharField(max_length=10, choices=Stance, default=Stance.SUPPORTS)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["allegation_id", "position", "id"]
        constraints = [models.CheckConstraint(condition=Q(stance__in=Stance.values), name="citation_stance_valid")]
        indexes = [models.Index(fields=["allegation", "source"], name="citation_allegation_source")]

    def __str__(self):
        return f"{self.source} ({self.get_stance_display()})"


class StoredFile(models.Model):
    """Bytes kept once per SHA-256 under a server-generated name; never served from MEDIA_ROOT directly."""

    sha256 = models.CharField(max_length=64, unique=True)
    size = models.PositiveBigIntegerField()
    media_type = models.CharField(max_length=100, help_text="Detected from the content, not from the name.")
    storage_name = models.CharField(max_length=200, unique=True)
    stored_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.media_type} {self.size} bytes sha256:{self.sha256[:16]}"


class CaptureMethod(models.TextChoices):
    UPLOAD = "upload", "File uploaded by the researcher"
    WEB_ARCHIVE = "web_archive", "Copy in a web archive"
    SCREENSHOT = "screenshot", "Screenshot"
    DOWNLOAD = "download", "Downloaded from the original location"
    RECEIVED = "received", "Received from a person or organization"
    OTHER = "other", "Other"


class Capture(models.Model):
    """An archived copy of a source: a stored file, a web-archive address, or both."""

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="captures")
    file = models.ForeignKey(StoredFile, null=True, blank=True, on_delete=models.PROTECT, related_name="captures")
    archive_url = models.URLField(max_length=2000, blank=True, help_text="Address of a web-archive copy.")
    original_filename = models.CharField(
        max_length=255, blank=True, help_text="The uploaded file's name, kept as metadata only; never used for storage."
    )
    captured_at = models.DateTimeField(help_text="When the copy was made.")
    captured_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    method = models.CharField(max_length=20, choices=CaptureMethod, default=CaptureMethod.UPLOAD)
    notes = models.TextField(blank=True)
    # Images only: the public derivative and thumbnail (metadata stripped) and the
    # original's extracted metadata (camera, time, GPS), which only staff may see.
    derivative = models.ForeignKey(StoredFile, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    thumbnail = models.ForeignKey(StoredFile, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    restricted_metadata = models.JSONField(default=dict, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = CaptureQuerySet.as_manager()

    class Meta:
        ordering = ["source_id", "captured_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(file__isnull=False) | ~Q(archive_url=""), name="capture_has_file_or_archive_url"
            ),
            models.CheckConstraint(condition=http_url_condition("archive_url"), name="capture_archive_url_http"),
            models.CheckConstraint(condition=Q(method__in=CaptureMethod.values), name="capture_method_valid"),
            models.CheckConstraint(
                condition=Q(thumbnail__isnull=True) | Q(derivative__isnull=False), name="capture_thumbnail_needs_derivative"
            ),
        ]

    def __str__(self):
        return f"Capture of {self.source} ({self.file or self.archive_url})"

    @property
    def is_image(self):
        return self.derivative_id is not None
