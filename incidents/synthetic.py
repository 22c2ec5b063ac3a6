"""A realistic synthetic archive for benchmarks: skewed, varied, and marked synthetic everywhere.

Every record it writes says so (reference codes start with SYN-, names and
titles carry "(synthetic)"), and it refuses to write into a database that
holds any real incident, so synthetic data can never mix with a real archive.
Rows are written in bulk with one audit entry per incident and per taxonomy
entry, chained like any other.
"""
import collections
import datetime
import itertools
import random
from decimal import Decimal

from django.contrib.auth.models import Group, User
from django.db import connection, transaction
from django.utils import timezone

from archive import audit
from sources.models import Citation, Organization, Source

from . import tally
from .models import (
    Allegation, Conflict, Incident, IncidentText, Party, Place, Side, ViolationType, WeaponCategory, WeaponType,
)

PREFIX = "SYN-"
TALLY_EVERY = 200_000
MARK = "[synthetic]"
CONFIDENCE_WEIGHTS = {"verified": 20, "corroborated": 25, "single_source": 30, "party_claim": 15, "contested": 7, "discounted": 3}
STATUS_WEIGHTS = {"published": 90, "in_review": 6, "draft": 4}
WORDS = ("shelling strike market school hospital convoy checkpoint village bridge shelter rocket drone "
         "artillery detention residential farm road mosque church power station water").split()


class RealDataPresent(Exception):
    pass


def insert_rows(model, columns, rows, batch=5000):
    """INSERT plain tuples into a model's table (no model instances: most of the rows are links and citations)."""
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(model._meta.get_field(c).column) for c in columns)
    sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            cursor.executemany(sql, rows[start:start + batch])


_CUMULATIVE = {}


def zipf_choice(rng, items, s=1.1):
    # The cumulative weights depend only on the length and the exponent; computing them once per shape
    # instead of per draw gives the same draws (random.choices accumulates weights the same way).
    key = (len(items), s)
    if key not in _CUMULATIVE:
        _CUMULATIVE[key] = list(itertools.accumulate(1 / (rank ** s) for rank in range(1, len(items) + 1)))
    return rng.choices(items, cum_weights=_CUMULATIVE[key])[0]


def ensure_synthetic_only():
    if Incident.objects.exclude(reference_code__startswith=PREFIX).exists():
        raise RealDataPresent(
            "This database holds real incidents; synthetic data is only written to a database of its own "
            "(use --database with a new SQLite file or PostgreSQL database)."
        )


def _actor():
    user, created = User.objects.get_or_create(username="synthetic-generator", defaults={"first_name": "Synthetic"})
    if created:
        user.set_unusable_password()
        user.save()
        user.groups.add(Group.objects.get(name="researcher"))
    return user


class Generator:
    def __init__(self, seed, actor):
        # Separate streams, so the incidents drawn from a seed are the same whether
        # or not the taxonomies and sources had to be created first.
        self.rng = random.Random(seed)
        self.setup_rng = random.Random(f"{seed}-setup")
        self.actor = actor
        self.audit = []

    def _note(self, obj, action):
        self.audit.append({"actor": self.actor, "action": action, "target": obj, "changes": {"synthetic": True}})

    def taxonomies(self):
        rng = self.setup_rng
        existing = Conflict.objects.filter(name__endswith=MARK)
        if existing.exists():
            return self._load_taxonomies()
        conflicts = [Conflict.objects.create(name=f"Conflict {c} {MARK}", slug=f"syn-conflict-{c.lower()}",
                                             started_on=datetime.date(2014 + i, 1, 1))
                     for i, c in enumerate("ABCD")]
        sides = [Side.objects.create(name=f"Side {c}{n} {MARK}", slug=f"syn-side-{c.lower()}{n}")
                 for c in "ABCD" for n in (1, 2)]
        parties = [Party.objects.create(name=f"Party {i:02d} {MARK}", slug=f"syn-party-{i:02d}", side=sides[i % len(sides)],
                                        kind=rng.choice(["state_forces", "non_state_armed_group", "de_facto_authority"]))
                   for i in range(36)]
        places = []
        for i in range(240):
            lat, lng = Decimal(f"{rng.uniform(30, 45):.5f}"), Decimal(f"{rng.uniform(35, 50):.5f}")
            with_coords = rng.random() < 0.8
            places.append(Place.objects.create(
                name=f"Place {i:03d} {MARK}", slug=f"syn-place-{i:03d}", aliases=f"Alt place {i:03d}" if i % 3 == 0 else "",
                admin_area=f"District {i % 30:02d}", country=f"Country {i % 4}",
                latitude=lat if with_coords else None, longitude=lng if with_coords else None,
                geo_precision="town" if with_coords else "unknown"))
        categories = WeaponCategory.values
        weapons = [WeaponType.objects.create(
            name=f"Weapon {i:02d} {MARK}", slug=f"syn-weapon-{i:02d}", aliases=f"W-{i:02d}",
            category=categories[i % len(categories)], is_cluster_munition=rng.choice(["yes", "no", "no", "unknown"]))
            for i in range(48)]
        organizations = [Organization.objects.create(
            name=f"Organization {i:02d} {MARK}", slug=f"syn-org-{i:02d}",
            kind=rng.choice(["ngo", "igo", "media", "government"]), is_party_affiliated=i % 5 == 0)
            for i in range(40)]
        for obj in conflicts + sides + parties + places + weapons + organizations:
            self._note(obj, f"{obj._meta.model_name}.create")
        return self._load_taxonomies()

    def _load_taxonomies(self):
        def mine(model):
            return list(model.objects.filter(slug__startswith="syn-").order_by("pk"))

        self.conflicts, self.sides, self.parties = mine(Conflict), mine(Side), mine(Party)
        self.places, self.weapons, self.organizations = mine(Place), mine(WeaponType), mine(Organization)
        self.violations = list(ViolationType.objects.order_by("pk"))
        self.sources = list(Source.objects.filter(organization__slug__startswith="syn-").order_by("pk"))
        return self

    def sources_for(self, count):
        rng, new = self.setup_rng, []
        for i in range(count):
            published = datetime.date(2015, 1, 1) + datetime.timedelta(days=rng.randrange(3650))
            new.append(Source(organization=zipf_choice(rng, self.organizations), title=f"Report {len(self.sources) + i} {MARK}",
                              kind=rng.choice(["report", "article", "press_release", "video", "official_statement"]),
                              published_on=published, published_form="day",
                              url=f"https://synthetic.invalid/report/{len(self.sources) + i}", created_by=self.actor))
        created = Source.objects.bulk_create(new)
        for source in created:
            self._note(source, "source.create")
        self.sources += created

    def incidents(self, start, count):
        rng, now = self.rng, timezone.now()
        incidents = []
        for number in range(start, start + count):
            precision = rng.choices(["day", "month", "approximate", "year", "unknown"], [70, 12, 12, 3, 3])[0]
            begin = datetime.date(2015, 1, 1) + datetime.timedelta(days=int(rng.betavariate(2, 1.5) * 3600))
            span = {"day": 0, "month": 27, "approximate": rng.randrange(1, 40), "year": 360, "unknown": 0}[precision]
            killed = None if rng.random() < 0.4 else int(rng.paretovariate(1.3)) - 1
            status = rng.choices(list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values()))[0]
            incidents.append(Incident(
                reference_code=f"{PREFIX}{number:07d}", conflict=zipf_choice(rng, self.conflicts),
                title=f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} near place {number % 240} {MARK}",
                summary=" ".join(rng.choices(WORDS, k=24)), date_precision=precision,
                date_start=None if precision == "unknown" else begin,
                date_end=None if precision == "unknown" else begin + datetime.timedelta(days=span),
                place=zipf_choice(rng, self.places, s=0.9), civilians_killed_min=killed,
                civilians_killed_max=None if killed is None else killed + rng.randrange(0, 5),
                status=status, created_by=self.actor, published_at=now if status == "published" else None,
            ))
        return Incident.objects.bulk_create(incidents)

    def allegations(self, incidents):
        rng, allegations = self.rng, []
        for incident in incidents:
            for position in range(rng.choices([1, 2, 3, 4], [50, 30, 15, 5])[0]):
                roll, party = rng.random(), zipf_choice(rng, self.parties, s=0.8)
                allegations.append(Allegation(
                    incident=incident, position=position,
                    perpetrator=party if roll > 0.15 else None,
                    perpetrator_side=party.side if roll > 0.05 else None,
                    affected_party="civilians", summary=" ".join(rng.choices(WORDS, k=16)),
                    confidence=rng.choices(list(CONFIDENCE_WEIGHTS), list(CONFIDENCE_WEIGHTS.values()))[0]))
        Allegation.objects.bulk_create(allegations)
        per_incident = collections.Counter(allegation.incident_id for allegation in allegations)
        for incident in incidents:
            incident.allegation_count = per_incident[incident.pk]
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {connection.ops.quote_name(Incident._meta.db_table)} SET allegation_count = %s WHERE id = %s",
                [(n, pk) for pk, n in per_incident.items()],
            )
        # The link and citation rows are most of the volume: written as plain tuples, not model instances.
        violation_links, weapon_links, citations = [], [], []
        for allegation in allegations:
            for violation in rng.sample(self.violations, rng.choices([1, 2, 3], [60, 30, 10])[0]):
                violation_links.append((allegation.pk, violation.pk))
            for weapon in {zipf_choice(rng, self.weapons) for _ in range(rng.choices([0, 1, 2], [20, 60, 20])[0])}:
                weapon_links.append((allegation.pk, weapon.pk))
            for position in range(rng.choices([1, 2, 3, 4, 5], [35, 25, 20, 12, 8])[0]):
                citations.append((allegation.pk, zipf_choice(rng, self.sources, s=0.7).pk, position,
                                  " ".join(rng.choices(WORDS, k=10)), "",
                                  "disputes" if rng.random() < 0.05 else "supports"))
        through = Allegation.violation_types.through
        insert_rows(through, ["allegation_id", "violationtype_id"], violation_links)
        insert_rows(Allegation.weapons.through, ["allegation_id", "weapontype_id"], weapon_links)
        insert_rows(Citation, ["allegation_id", "source_id", "position", "quote", "locator", "stance"], citations)
        self.publish_sources(incidents, allegations, citations)
        return allegations, citations

    def publish_sources(self, incidents, allegations, citations):
        """Mark the sources a published, public incident now cites as public (sources.publicity): synth only
        adds, so a source once public stays public."""
        public = {incident.pk for incident in incidents if incident.status == "published"
                  and incident.visibility == "public" and incident.draft_of_id is None}
        incident_of = {allegation.pk: allegation.incident_id for allegation in allegations}
        cited = sorted({source for allegation, source, *_ in citations if incident_of[allegation] in public})
        for start in range(0, len(cited), 500):
            Source.objects.filter(pk__in=cited[start:start + 500], public=False).update(public=True)

    def index_text(self, incidents, allegations, citations):
        quotes = {}
        for allegation_id, _source, _position, quote, *_ in citations:
            quotes.setdefault(allegation_id, []).append(quote)
        texts = {incident.pk: [incident.reference_code, incident.title, incident.summary] for incident in incidents}
        for allegation in allegations:
            texts[allegation.incident_id] += [allegation.summary, *quotes.get(allegation.pk, [])]
        IncidentText.objects.bulk_create(IncidentText(incident_id=pk, body="\n".join(parts)) for pk, parts in texts.items())


def generate(total, seed, batch=2000, progress=None):
    """Add `total` synthetic incidents (continuing the numbering of any already there)."""
    ensure_synthetic_only()
    with transaction.atomic():
        generator = Generator(seed, _actor()).taxonomies()
        if len(generator.sources) < 200:
            generator.sources_for(max(200, total // 3))
        audit.record_many(generator.audit)
    start = Incident.objects.filter(reference_code__startswith=PREFIX).count() + 1
    done = 0
    # The balance totals are moved once per TALLY_EVERY incidents, with the sum of their contributions: many
    # keys recur from batch to batch, and moving each total once per batch was half of the generator's time.
    # Each move is in the transaction of the batch that ends the group, so the totals count exactly the
    # incidents committed at the end of every group; if the generator is stopped in between, run rebuild_tally.
    pending = collections.Counter()
    while done < total:
        size = min(batch, total - done)
        with transaction.atomic():
            generator.audit = []
            incidents = generator.incidents(start + done, size)
            allegations, citations = generator.allegations(incidents)
            generator.index_text(incidents, allegations, citations)
            tally.add_new([incident.pk for incident in incidents], deltas=pending, defer=True)
            if done + size >= total or (done + size) % TALLY_EVERY < size:
                tally.apply(pending)
                pending = collections.Counter()
            audit.record_many({
                "actor": generator.actor, "action": "incident.create", "target": incident,
                "scope": f"incident:{incident.pk}",
                "changes": {"via": "synth", "synthetic": True, "status": incident.status,
                            "allegations": incident.allegation_count},
            } for incident in incidents)
        done += size
        if progress:
            progress(done, total)
    return done
