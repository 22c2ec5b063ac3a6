"""Incidents, the allegations within them, and the taxonomies they use."""
from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q

from .querysets import IncidentQuerySet


def _aliases(text):
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


ALIASES_HELP = "Other names and spellings, one per line (other languages, transliterations, how sources spell it)."


class Conflict(models.Model):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True)
    started_on = models.DateField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(started_on__isnull=True) | Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                name="conflict_end_after_start",
            )
        ]

    def __str__(self):
        return self.name


class Side(models.Model):
    """A grouping of parties that fought together, so users can filter by a whole side."""

    name = models.CharField(max_length=200, unique=True, help_text="e.g. Armenia and Nagorno-Karabakh")
    slug = models.SlugField(max_length=200, unique=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class PartyKind(models.TextChoices):
    STATE_FORCES = "state_forces", "State armed forces"
    NON_STATE_GROUP = "non_state_armed_group", "Non-state armed group"
    DE_FACTO_AUTHORITY = "de_facto_authority", "De facto authority and its forces"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Not yet classified"


class Party(models.Model):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True)
    aliases = models.TextField(blank=True, help_text=ALIASES_HELP)
    side = models.ForeignKey(Side, null=True, blank=True, on_delete=models.PROTECT, related_name="parties")
    kind = models.CharField(max_length=30, choices=PartyKind, default=PartyKind.UNKNOWN)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "parties"
        constraints = [models.CheckConstraint(condition=Q(kind__in=PartyKind.values), name="party_kind_valid")]

    def __str__(self):
        return self.name

    def alias_list(self):
        return _aliases(self.aliases)


class GeoPrecision(models.TextChoices):
    EXACT = "exact", "Exact"
    TOWN = "town", "Town or village"
    DISTRICT = "district", "District"
    REGION = "region", "Region"
    UNKNOWN = "unknown", "Unknown"


class Place(models.Model):
    name = models.CharField(max_length=200, help_text="The name users would search for.")
    slug = models.SlugField(max_length=200, unique=True)
    aliases = models.TextField(blank=True, help_text=ALIASES_HELP)
    admin_area = models.CharField(max_length=200, blank=True, help_text="District or region.")
    country = models.CharField(max_length=200, blank=True, help_text="Country or territory as sources describe it.")
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    geo_precision = models.CharField(max_length=10, choices=GeoPrecision, default=GeoPrecision.UNKNOWN)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name", "admin_area", "country"], name="place_unique_name_in_area"),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(latitude__isnull=False, longitude__isnull=False),
                name="place_lat_lng_both_or_neither",
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="place_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="place_longitude_range",
            ),
            models.CheckConstraint(condition=Q(geo_precision__in=GeoPrecision.values), name="place_geo_precision_valid"),
        ]

    def __str__(self):
        return self.label(self.name, self.aliases)

    @staticmethod
    def label(name, aliases):
        """How a place is written out: its name, and its first other name in brackets."""
        others = _aliases(aliases)
        return f"{name} ({others[0]})" if others else name

    def alias_list(self):
        return _aliases(self.aliases)


class WeaponCategory(models.TextChoices):
    CLUSTER_SUBMUNITION = "cluster_submunition", "Cluster submunition"
    CLUSTER_MUNITION_ROCKET = "cluster_munition_rocket", "Cluster munition rocket"
    CLUSTER_MUNITION = "cluster_munition", "Cluster munition (type not identified)"
    UNGUIDED_ROCKET = "unguided_artillery_rocket", "Unguided artillery rocket"
    BALLISTIC_MISSILE = "ballistic_missile", "Ballistic missile"
    MISSILE = "missile", "Missile"
    GUIDED_MUNITION = "guided_munition", "Guided munition"
    LOITERING_MUNITION = "loitering_munition", "Loitering munition"
    AERIAL_MUNITION = "aerial_munition", "Aerial bomb or aircraft-delivered munition"
    ARTILLERY = "artillery", "Artillery"
    MORTAR = "mortar", "Mortar"
    SMALL_ARMS = "small_arms", "Small arms"
    EDGED_WEAPON = "edged_weapon", "Edged weapon"
    LANDMINE = "landmine", "Landmine"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Not yet classified"


class TriState(models.TextChoices):
    YES = "yes", "Yes"
    NO = "no", "No"
    UNKNOWN = "unknown", "Unknown"


class WeaponType(models.Model):
    name = models.CharField(max_length=200, unique=True, help_text="Name as sources most often spell it.")
    slug = models.SlugField(max_length=200, unique=True)
    aliases = models.TextField(blank=True, help_text=ALIASES_HELP)
    category = models.CharField(max_length=30, choices=WeaponCategory, default=WeaponCategory.UNKNOWN)
    is_cluster_munition = models.CharField(max_length=7, choices=TriState, default=TriState.UNKNOWN)
    origin_as_reported = models.CharField(
        max_length=200, blank=True, help_text="Country of origin or manufacturer, only where a source states it."
    )
    origin_reported_by = models.CharField(max_length=300, blank=True, help_text="Which source states the origin.")
    needs_curation = models.BooleanField(
        default=False, help_text="Created from a name in an import; an administrator should classify it."
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(category__in=WeaponCategory.values), name="weapontype_category_valid"),
            models.CheckConstraint(condition=Q(is_cluster_munition__in=TriState.values), name="weapontype_cluster_valid"),
        ]

    def __str__(self):
        return self.name

    def alias_list(self):
        return _aliases(self.aliases)


class ViolationType(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200, unique=True)
    definition = models.TextField()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class DatePrecision(models.TextChoices):
    DAY = "day", "Day"
    MONTH = "month", "Month"
    YEAR = "year", "Year"
    APPROXIMATE = "approximate", "Approximate (a range bounding an unknown date)"
    UNKNOWN = "unknown", "Unknown"


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    PUBLISHED = "published", "Published"
    WITHDRAWN = "withdrawn", "Withdrawn"


# The whole workflow on one screen: from each status, the statuses it may move to.
# A published incident is edited through a new working revision (a draft copy),
# so "published" itself only moves to "withdrawn".
TRANSITIONS = {
    Status.DRAFT: {Status.IN_REVIEW},
    Status.IN_REVIEW: {Status.PUBLISHED, Status.CHANGES_REQUESTED, Status.WITHDRAWN},
    Status.CHANGES_REQUESTED: {Status.IN_REVIEW, Status.WITHDRAWN},
    Status.PUBLISHED: {Status.WITHDRAWN},
    Status.WITHDRAWN: {Status.DRAFT},
}

EDITABLE_IN_PLACE = {Status.DRAFT, Status.CHANGES_REQUESTED}


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public once published"
    RESTRICTED = "restricted", "Restricted to signed-in staff"


class Confidence(models.TextChoices):
    VERIFIED = "verified", "Verified"
    CORROBORATED = "corroborated", "Corroborated"
    SINGLE_SOURCE = "single_source", "Single source"
    PARTY_CLAIM = "party_claim", "Party claim"
    CONTESTED = "contested", "Contested"
    DISCOUNTED = "discounted", "Discounted"


reference_code_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*$", "Use letters, digits, dots, dashes and underscores, e.g. AZF-2020-01."
)


def _range_condition(low, high):
    return Q(**{f"{low}__isnull": True}) | Q(**{f"{high}__isnull": True}) | Q(**{f"{low}__lte": F(high)})


def _non_negative(field):
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": 0})


CASUALTY_FIELDS = ["civilians_killed_min", "civilians_killed_max", "civilians_injured_min", "civilians_injured_max"]


class Incident(models.Model):
    reference_code = models.CharField(
        max_length=64, validators=[reference_code_validator], help_text="Stable key, e.g. AZF-2020-01."
    )
    conflict = models.ForeignKey(Conflict, null=True, blank=True, on_delete=models.PROTECT, related_name="incidents")
    title = models.CharField(max_length=300, help_text="Short and neutral: what happened where, not who is to blame.")
    summary = models.TextField(blank=True, help_text="Neutral narrative, attributing every claim to its source.")
    date_start = models.DateField(null=True, blank=True)
    date_end = models.DateField(null=True, blank=True)
    date_precision = models.CharField(max_length=12, choices=DatePrecision, default=DatePrecision.DAY)
    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="incidents")
    location_detail = models.CharField(max_length=300, blank=True, help_text="Street, building or neighbourhood.")
    civilians_killed_min = models.PositiveIntegerField(null=True, blank=True)
    civilians_killed_max = models.PositiveIntegerField(null=True, blank=True)
    civilians_injured_min = models.PositiveIntegerField(null=True, blank=True)
    civilians_injured_max = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status, default=Status.DRAFT, editable=False)
    visibility = models.CharField(max_length=12, choices=Visibility, default=Visibility.PUBLIC)
    revision = models.PositiveIntegerField(default=1, editable=False)
    draft_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="working_revisions",
        editable=False,
        help_text="Set on the working copy of a published incident; it replaces the original when approved.",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False)
    contributors = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="+", blank=True, editable=False,
        help_text="Everyone who wrote this revision; none of them may approve it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    # How many allegations the incident has, kept by the services that write them (services._write_content and
    # _promote) so that lists and result counts need not count allegations row by row.
    allegation_count = models.PositiveIntegerField(default=0, editable=False)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["reference_code"], condition=Q(draft_of__isnull=True), name="incident_reference_code_unique"
            ),
            models.UniqueConstraint(
                fields=["draft_of"], condition=Q(draft_of__isnull=False), name="incident_one_working_revision"
            ),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="incident_status_valid"),
            models.CheckConstraint(condition=Q(visibility__in=Visibility.values), name="incident_visibility_valid"),
            models.CheckConstraint(condition=Q(date_precision__in=DatePrecision.values), name="incident_date_precision_valid"),
            models.CheckConstraint(
                condition=_range_condition("date_start", "date_end"), name="incident_end_not_before_start"
            ),
            models.CheckConstraint(
                condition=Q(date_precision=DatePrecision.UNKNOWN) | Q(date_start__isnull=False),
                name="incident_date_known_unless_unknown",
            ),
            models.CheckConstraint(
                condition=Q(date_end__isnull=True) | Q(date_start__isnull=False), name="incident_end_needs_start"
            ),
            models.CheckConstraint(
                condition=_range_condition("civilians_killed_min", "civilians_killed_max"),
                name="incident_killed_min_le_max",
            ),
            models.CheckConstraint(
                condition=_range_condition("civilians_injured_min", "civilians_injured_max"),
                name="incident_injured_min_le_max",
            ),
            *[
                models.CheckConstraint(condition=_non_negative(field), name=f"incident_{field}_non_negative")
                for field in CASUALTY_FIELDS
            ],
            models.CheckConstraint(
                condition=Q(draft_of__isnull=True) | ~Q(status__in=[Status.PUBLISHED, Status.WITHDRAWN]),
                name="incident_working_copy_never_public",
            ),
        ]
        indexes = [
            models.Index(fields=["-date_start", "-id"], name="incident_date_idx"),
            # Who may see an incident, then the list's order (date, then id), then what result counts and date
            # filters read: counting the visible incidents reads this index alone, and on SQLite a list page,
            # however deep, is found in it without reading the rows it skips (100,000 incidents: last page 7 ms).
            models.Index(
                fields=["status", "visibility", "draft_of", "date_start", "id", "date_end", "date_precision",
                        "allegation_count"],
                name="incident_visible_by_date",
            ),
            # The review queue, oldest first, a page at a time (Incident.objects.awaiting_review()).
            models.Index(fields=["status", "updated_at", "id"], name="incident_status_updated"),
        ]
        permissions = [
            ("review_incident", "Can review incidents: approve, request changes, withdraw"),
            ("view_restricted", "Can see unpublished incidents and restricted fields"),
        ]

    def __str__(self):
        suffix = f" (working revision {self.revision})" if self.draft_of_id else ""
        return f"{self.reference_code}: {self.title}{suffix}"

    def can_move_to(self, status):
        return status in TRANSITIONS.get(Status(self.status), set())

    @property
    def is_working_copy(self):
        return self.draft_of_id is not None

    @property
    def record_id(self):
        """The id under which this incident's history is kept (the original's, for a working copy)."""
        return self.draft_of_id or self.pk


class Allegation(models.Model):
    """One alleged violation within an incident, attributed to a party, a side, or no one."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="allegations")
    perpetrator = models.ForeignKey(
        Party, null=True, blank=True, on_delete=models.PROTECT, related_name="allegations",
        help_text="The party the violation is alleged against; empty when sources do not name one.",
    )
    perpetrator_side = models.ForeignKey(
        Side, null=True, blank=True, on_delete=models.PROTECT, related_name="allegations",
        help_text="The side the alleged perpetrator belongs to; may be given alone.",
    )
    affected_party = models.CharField(max_length=300, blank=True, help_text="Who was harmed, as sources describe them.")
    violation_types = models.ManyToManyField(ViolationType, blank=True, related_name="allegations")
    weapons = models.ManyToManyField(WeaponType, blank=True, related_name="allegations")
    summary = models.TextField(blank=True, help_text="What is alleged, attributed to the source that alleges it.")
    confidence = models.CharField(max_length=15, choices=Confidence, default=Confidence.SINGLE_SOURCE)
    party_response = models.TextField(
        blank=True, help_text="The accused party's response (denial, counter-claim), attributed to who made it."
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["incident_id", "position", "id"]
        constraints = [models.CheckConstraint(condition=Q(confidence__in=Confidence.values), name="allegation_confidence_valid")]
        indexes = [
            models.Index(fields=["perpetrator_side", "incident"], name="allegation_side_incident"),
            # An incident's allegations of one party: the list walking incidents in order probes it for each.
            models.Index(fields=["perpetrator", "incident"], name="allegation_party_incident"),
            models.Index(fields=["confidence", "incident"], name="allegation_confidence_incident"),
        ]

    def __str__(self):
        return f"Allegation against {self.perpetrator or self.perpetrator_side or 'an unidentified party'}"


class IncidentRevision(models.Model):
    """An immutable snapshot of an incident as it was submitted for review."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    document = models.JSONField(help_text="Canonical JSON of the incident, its allegations and citations.")
    sha256 = models.CharField(max_length=64)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField()

    class Meta:
        ordering = ["incident_id", "-submitted_at", "-id"]
        get_latest_by = "submitted_at"

    def __str__(self):
        return f"{self.incident.reference_code} revision {self.number} ({self.sha256[:12]})"


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve and publish"
    REQUEST_CHANGES = "request_changes", "Request changes"
    WITHDRAW = "withdraw", "Withdraw"


class Review(models.Model):
    revision = models.ForeignKey(IncidentRevision, on_delete=models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
        help_text="Copied from the revision so that the database can refuse self-approval.",
    )
    decision = models.CharField(max_length=20, choices=Decision)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(decision__in=Decision.values), name="review_decision_valid"),
            models.CheckConstraint(
                condition=~Q(decision=Decision.APPROVE) | ~Q(reviewer=F("submitted_by")),
                name="review_no_self_approval",
            ),
            models.UniqueConstraint(
                fields=["revision"], condition=Q(decision=Decision.APPROVE), name="review_one_approval_per_revision"
            ),
        ]

    def __str__(self):
        return f"{self.get_decision_display()} by {self.reviewer} on {self.revision}"


class IncidentText(models.Model):
    """Derived: the searchable text of an incident, rebuilt by the services on every content write.

    SQLite indexes it with FTS5 and PostgreSQL with a GIN index over its
    tsvector (both created by migration 0005); see incidents/search.py.
    """

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, primary_key=True, related_name="text")
    body = models.TextField()

    def __str__(self):
        return f"Search text of incident {self.incident_id}"


class BalanceTally(models.Model):
    """A running total behind the balance view, for one status, visibility and conflict of incidents.

    `incidents.tally` keeps these rows in step with every write of a record incident (its content or its
    status), so the balance of the whole archive or of a conflict is read from a few hundred rows instead of
    being counted over every allegation, citation and link. Ids are plain numbers, 0 meaning none, so that a
    key holds one row (a NULL would never equal another in the unique constraint).
    """

    facet = models.CharField(max_length=200, blank=True, default="",
                             help_text="Empty: all the allegations. Else those of one list filter's value "
                                       "(incidents.tally.facet()), e.g. weapon_category=explosive, or of a "
                                       "combination of values (a joint facet), e.g. violation=3&12.")
    status = models.CharField(max_length=20)
    visibility = models.CharField(max_length=20)
    conflict_id = models.PositiveIntegerField(help_text="0: no conflict recorded.")
    section = models.CharField(max_length=30)
    side_id = models.PositiveIntegerField(help_text="0: no side.")
    party_id = models.PositiveIntegerField(help_text="0: no party.")
    key = models.CharField(max_length=40, help_text="The confidence grade, violation type id, weapon category, "
                                                    "organization id or casualty figure counted.")
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["facet", "status", "visibility", "conflict_id", "section", "side_id", "party_id", "key"],
                name="balance_tally_one_row_per_key",
            ),
        ]

    def __str__(self):
        return f"{self.facet or 'all'} {self.status}/{self.visibility}/{self.conflict_id} {self.section} {self.side_id}/{self.party_id} {self.key}: {self.n}"


class BalanceTallyByMonth(models.Model):
    """The same running totals also kept by the months an incident's span starts and ends in (YYYYMM, 0 for an
    undated incident), so that a balance of whole months is a sum over the keys whose span overlaps them."""

    status = models.CharField(max_length=20)
    visibility = models.CharField(max_length=20)
    conflict_id = models.PositiveIntegerField()
    section = models.CharField(max_length=30)
    side_id = models.PositiveIntegerField()
    party_id = models.PositiveIntegerField()
    key = models.CharField(max_length=40)
    first_month = models.PositiveIntegerField()
    last_month = models.PositiveIntegerField()
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["status", "visibility", "conflict_id", "section", "side_id", "party_id", "key",
                        "first_month", "last_month"],
                name="balance_tally_by_month_one_row_per_key",
            ),
        ]
        # Covering indexes, so that a range of months is summed from an index alone: from its last month up
        # (a range "from F"), or from its first month (a range "to T").
        indexes = [
            models.Index(fields=["status", "visibility", "last_month", "first_month", "conflict_id", "section",
                                 "side_id", "party_id", "key", "n"], name="balance_tally_month_ends"),
            models.Index(fields=["status", "visibility", "first_month", "last_month", "conflict_id", "section",
                                 "side_id", "party_id", "key", "n"], name="balance_tally_month_starts"),
        ]

    def __str__(self):
        return f"{self.first_month}-{self.last_month} {self.section} {self.side_id}/{self.party_id} {self.key}: {self.n}"


class TimelineTally(models.Model):
    """The incidents with an allegation of one facet's value (`incidents.tally.facet()`: one weapon category,
    violation type, confidence grade or organization, or cluster munitions; or with all the values of a joint
    facet between their allegations), by the months their spans start and
    end in, for the timeline's rows: all of them, those of each side, those with an unattributed allegation.

    BalanceTallyByMonth keeps every section of the balance by month, but not by facet: kept for every facet it
    would hold about sixteen times its rows. The timeline reads only these three counts of incidents; the list's
    counts of a facet over whole months read them with the facet's allegations of each side ("allegations")."""

    facet = models.CharField(max_length=200)
    status = models.CharField(max_length=20)
    visibility = models.CharField(max_length=20)
    conflict_id = models.PositiveIntegerField()
    section = models.CharField(max_length=30, help_text="casualties_all, casualties_side or "
                                                        "casualties_unattributed: the columns that count incidents; "
                                                        "allegations: the allegations of a side (0: none).")
    side_id = models.PositiveIntegerField()
    first_month = models.PositiveIntegerField()
    last_month = models.PositiveIntegerField()
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["facet", "status", "visibility", "conflict_id", "section", "side_id", "first_month",
                        "last_month"],
                name="timeline_tally_one_row_per_key",
            ),
        ]

    def __str__(self):
        return f"{self.facet} {self.section} {self.first_month}-{self.last_month}: {self.n}"


class IncidentTally(models.Model):
    """What one record incident adds to the balance tally now, so that a later write can take it back out: the
    facts its contribution is counted from (incidents.tally.facts())."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, primary_key=True, related_name="+")
    status = models.CharField(max_length=20)
    visibility = models.CharField(max_length=20)
    conflict_id = models.PositiveIntegerField()
    first_month = models.PositiveIntegerField(default=0)
    last_month = models.PositiveIntegerField(default=0)
    facts = models.JSONField(help_text="Each allegation's side, party, confidence, violation types, weapon "
                                       "categories and cited organizations, and the casualty figures.")

    def __str__(self):
        return f"tally of incident {self.incident_id}"
