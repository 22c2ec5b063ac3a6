"""The database side of the load test: seeding through the services, and checking every acknowledged write.

Run by bench/load.py in a subprocess with the environment of the server under
test (DATABASE_URL, MEDIA_ROOT, ...), never against a database it did not create:

    python bench/load_db.py seed CONFIG.json OUT.json
    python bench/load_db.py check LEDGER.json OUT.json
"""
import datetime
import json
import os
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archive.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.db import transaction  # noqa: E402

from archive import audit  # noqa: E402
from archive.models import AuditEvent  # noqa: E402
from incidents import services, taxonomy  # noqa: E402
from incidents.documents import AllegationData, CitationData  # noqa: E402
from incidents.models import Decision, Incident, IncidentRevision, Review, Status, ViolationType  # noqa: E402
from sources import services as source_services  # noqa: E402
from sources.models import Capture  # noqa: E402

SEED_TITLES = [
    "Shelling of the market in {place}",
    "Cluster munition strike on a school in {place}",
    "Air strike on the hospital of {place}",
    "Rocket attack on a residential block in {place}",
    "Drone strike on a bus station in {place}",
]
SIDES = {"North": ["North army", "North militia"], "South": ["South army", "South air force"]}
PLACES = ["Northtown", "Riverside", "Hillcrest", "Southport"]
WEAPONS = [("Test cluster rocket", "yes"), ("Test artillery shell", "no")]


def make_users(names, group_name, hashed):
    group = Group.objects.get(name=group_name)
    users = []
    for name in names:
        # One password hash for every load-test account: logging in stays realistic, seeding stays fast.
        user = User.objects.create(username=name, password=hashed)
        user.groups.add(group)
        audit.record(actor=None, action="user.create", target=user, changes={"via": "bench/load.py", "groups": [group_name]})
        users.append(user)
    return users


def taxonomy_for_load(actor):
    parties = []
    for side_name, party_names in SIDES.items():
        side = taxonomy.add_side(actor=actor, name=side_name, via="load")
        parties += [taxonomy.add_party(actor=actor, name=name, side=side, via="load") for name in party_names]
    places = [taxonomy.add_place(actor=actor, name=name, country="Testland", via="load") for name in PLACES]
    weapons = [
        taxonomy.add_weapon_type(actor=actor, name=name, is_cluster_munition=cluster, needs_curation=False, via="load")
        for name, cluster in WEAPONS
    ]
    return parties, places, weapons


def sources_for_load(actor, count):
    organization = source_services.add_organization(actor=actor, name="Load Watch", kind="ngo", via="load")
    sources = []
    for n in range(count):
        source = source_services.add_source(
            actor=actor, organization=organization, title=f"Load report {n + 1}", kind="report", via="load"
        )
        upload = SimpleUploadedFile(f"report-{n + 1}.txt", f"Seeded capture of load report {n + 1}.\n".encode())
        source_services.add_captures(actor=actor, source=source, prepared=[source_services.prepare_upload(upload)])
        sources.append(source)
    return sources


def seed_incident(actor, n, parties, places, weapons, sources, violations):
    place = places[n % len(places)]
    party = parties[n % len(parties)]
    fields = {
        "reference_code": f"LOAD-S-{n:04d}", "conflict": None,
        "title": SEED_TITLES[n % len(SEED_TITLES)].format(place=place.name), "summary": "Seeded by bench/load.py.",
        "date_start": datetime.date(2020, 10, 1) + datetime.timedelta(days=n), "date_end": None,
        "date_precision": "day", "place": place, "location_detail": "",
        "civilians_killed_min": n % 5, "civilians_killed_max": n % 5 + 2,
        "civilians_injured_min": None, "civilians_injured_max": None, "visibility": "public",
    }
    fields["date_end"] = fields["date_start"]
    allegation = AllegationData(
        perpetrator=party, violation_types=[violations[n % len(violations)]], weapons=[weapons[n % len(weapons)]],
        summary=f"Load Watch reports an attack by {party.name}.",
        citations=[CitationData(source=sources[n % len(sources)], quote="seeded quote")],
    )
    return services.record_incident(actor=actor, fields=fields, allegations=[allegation], via="load")


def seed(config):
    hashed = make_password(config["password"])
    with transaction.atomic():
        researchers = make_users(config["researchers"], "researcher", hashed)
        make_users(config["reviewers"], "reviewer", hashed)
        seeder, seed_reviewer = make_users(["load-seeder"], "researcher", hashed)[0], make_users(["load-seed-reviewer"], "reviewer", hashed)[0]
        parties, places, weapons = taxonomy_for_load(seeder)
        sources = sources_for_load(seeder, config["sources"])
    violations = list(ViolationType.objects.order_by("slug")[:4])
    published, in_review, drafts, n = [], [], defaultdict(list), 0
    for _ in range(config["published"]):
        incident = seed_incident(seeder, n, parties, places, weapons, sources, violations)
        revision = services.submit(actor=seeder, incident=incident)
        published.append(services.approve(actor=seed_reviewer, incident=incident, sha256=revision.sha256).pk)
        n += 1
    for _ in range(config["in_review"]):
        incident = seed_incident(seeder, n, parties, places, weapons, sources, violations)
        services.submit(actor=seeder, incident=incident)
        in_review.append(incident.pk)
        n += 1
    for researcher in researchers:
        for _ in range(config["drafts_each"]):
            drafts[researcher.username].append(seed_incident(researcher, n, parties, places, weapons, sources, violations).pk)
            n += 1
    return {
        "published": published, "in_review": in_review, "drafts": drafts,
        "sources": [s.pk for s in sources], "parties": [p.slug for p in parties],
        "audit_head": audit.head(),
    }


# --- checking -------------------------------------------------------------------------------------------------

CONTENT_ACTIONS = ("incident.create", "incident.update", "incident.revise")


class Events:
    """The incident events of the audit log, indexed the ways the checks need."""

    def __init__(self):
        self.by_title, self.superseded = {}, defaultdict(list)
        self.submits, self.approvals = Counter(), {}
        rows = AuditEvent.objects.filter(action__startswith="incident.").order_by("seq")
        for event in rows.values("seq", "action", "actor_name", "target_id", "changes").iterator(chunk_size=2000):
            changes = event["changes"] or {}
            if event["action"] in CONTENT_ACTIONS:
                self.by_title[changes["after"]["title"]] = event
                if changes.get("before"):
                    self.superseded[changes["before"]["title"]].append(event["seq"])
            elif event["action"] == "incident.submit":
                self.submits[event["actor_name"], event["target_id"]] += 1
            elif event["action"] == "incident.approve":
                self.approvals[event["actor_name"], changes.get("sha256")] = event


def check_content(write, events, titles):
    """A created or edited text is in the log as its author wrote it, and still in the database
    unless a later audited edit started from it."""
    event = events.by_title.get(write["title"])
    if event is None:
        return f"{write['kind']} by {write['user']} of #{write['pk']} ({write['title']!r}) acknowledged but not in the audit log"
    if event["actor_name"] != write["user"] or event["target_id"] != str(write["pk"]):
        return f"{write['kind']} {write['title']!r}: the audit log names {event['actor_name']} on #{event['target_id']}"
    if write["title"] not in titles and not any(seq > event["seq"] for seq in events.superseded[write["title"]]):
        return f"{write['kind']} by {write['user']} ({write['title']!r}) acknowledged, then lost without a later edit"
    if write["kind"] == "create" and not Incident.objects.filter(pk=write["pk"], reference_code=write["reference_code"]).exists():
        return f"created incident #{write['pk']} {write['reference_code']} is missing"
    return None


def check_approval(write, events):
    if (write["user"], write["sha256"]) not in events.approvals:
        return f"approval by {write['user']} of {write['sha256'][:12]} acknowledged but not in the audit log"
    approved = Review.objects.filter(
        decision=Decision.APPROVE, reviewer__username=write["user"], revision__sha256=write["sha256"]
    )
    if not approved.exists():
        return f"approval by {write['user']} of {write['sha256'][:12]} has no review row"
    return None


def check_capture(write):
    captures = Capture.objects.filter(
        source_id=write["source"], file__sha256=write["sha256"], captured_by__username=write["user"]
    )
    if not captures.exists():
        return f"capture {write['sha256'][:12]} on source #{write['source']} by {write['user']} is missing"
    return None


def check(ledger):
    events, problems = Events(), []
    titles = set(Incident.objects.values_list("title", flat=True))
    acknowledged_submits = Counter((w["user"], str(w["pk"])) for w in ledger if w["kind"] == "submit")
    for write in ledger:
        if write["kind"] in ("create", "edit", "revise"):
            problems.append(check_content(write, events, titles))
        elif write["kind"] == "approve":
            problems.append(check_approval(write, events))
        elif write["kind"] == "capture":
            problems.append(check_capture(write))
    for (user, pk), count in acknowledged_submits.items():
        if events.submits[user, pk] < count:
            problems.append(f"{count} submission(s) of #{pk} by {user} acknowledged, {events.submits[user, pk]} in the log")
    submitted_by_load = IncidentRevision.objects.filter(submitted_by__username__in={w["user"] for w in ledger}).count()
    if submitted_by_load < sum(acknowledged_submits.values()):
        problems.append(f"{sum(acknowledged_submits.values())} submissions acknowledged, {submitted_by_load} revisions stored")
    return {
        "problems": [p for p in problems if p],
        "checked": len(ledger),
        "audit_actions": dict(Counter(AuditEvent.objects.values_list("action", flat=True))),
        "incidents_by_status": dict(Counter(Incident.objects.values_list("status", flat=True))),
        "published": Incident.objects.records().filter(status=Status.PUBLISHED).count(),
        "audit_head": audit.head(),
    }


def main(argv):
    command, source, target = argv[1:4]
    data = json.loads(Path(source).read_text(encoding="utf-8"))
    result = seed(data) if command == "seed" else check(data)
    Path(target).write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv)
