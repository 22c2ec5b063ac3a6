"""manage.py load_demo: demo accounts, weapon types and the reference incidents, loaded as users would load them.

The reference incidents are imported by the demo researcher (so each enters
review like any import) and then approved by the demo reviewer, except a few
left in review so the review queue has content. Running it again changes
nothing. Development only: it refuses to run unless DEBUG is on.
"""
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from archive import audit
from incidents import services
from incidents.importer import ImportFailed, import_incidents, load_weapon_types
from incidents.models import Incident, Status

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
ACCOUNTS = [
    ("researcher", "researcher", {}),
    ("researcher2", "researcher", {}),
    ("reviewer", "reviewer", {}),
    ("admin", "administrator", {"is_staff": True, "is_superuser": True}),
]
# Left in review so the queue has content: one alleged against each side, and one with two allegations.
LEFT_IN_REVIEW = ("AZF-2023-01", "ARF-2023-01", "ARF-2020-11")
APPROVAL_COMMENT = "Demo data: approved by manage.py load_demo."
PASSWORDS_HEADER = (
    "# Demo accounts made by manage.py load_demo (development only): username password.\n"
    "# Never use these accounts on a server holding real data.\n"
)


def passwords_file():
    return Path(settings.VAR_DIR) / "demo-accounts.txt"


def read_passwords(path):
    passwords = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                username, _, password = line.strip().partition(" ")
                passwords[username] = password.strip()
    return passwords


def write_passwords(path, passwords):
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(PASSWORDS_HEADER + "".join(f"{name} {password}\n" for name, password in passwords.items()))


def ensure_account(username, group_name, flags, passwords):
    """The account with its group and flags; created with a random password the first time."""
    group = Group.objects.get(name=group_name)
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        passwords.setdefault(username, secrets.token_urlsafe(12))
        user = get_user_model().objects.create_user(username=username, password=passwords[username], **flags)
        user.groups.add(group)
        audit.record(actor=None, action="user.create", target=user,
                     changes={"via": "load_demo", "groups": [group_name], **flags})
        return user
    changed = {name: [getattr(user, name), value] for name, value in flags.items() if getattr(user, name) != value}
    if changed or not user.groups.filter(pk=group.pk).exists():
        for name, (_, value) in changed.items():
            setattr(user, name, value)
        if changed:
            user.save(update_fields=list(changed))
        user.groups.add(group)
        audit.record(actor=None, action="user.update", target=user,
                     changes={"via": "load_demo", "added_group": group_name, "changed": changed})
    return user


def approve_demo_incidents(references, researcher, reviewer):
    """Approve the demo researcher's incidents that are waiting for review, except those left for the queue."""
    approved = []
    waiting = Incident.objects.filter(
        reference_code__in=[r for r in references if r not in LEFT_IN_REVIEW],
        draft_of__isnull=True, status=Status.IN_REVIEW,
    ).order_by("reference_code")
    for incident in waiting:
        revision = services.revision_in_review(incident)
        if revision is not None and revision.submitted_by_id == researcher.pk:
            services.approve(actor=reviewer, incident=incident, sha256=revision.sha256, comment=APPROVAL_COMMENT)
            approved.append(incident.reference_code)
    return approved


class Command(BaseCommand):
    help = (
        "Development only (DEBUG on): create the demo accounts researcher, researcher2, reviewer and admin, load "
        "the demo weapon types, import the reference incidents as researcher and approve most of them as reviewer."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError(
                "load_demo creates accounts whose passwords it prints, so it runs only with DEBUG on "
                "(DJANGO_DEBUG=1). Nothing was done."
            )
        path = passwords_file()
        passwords = read_passwords(path)
        try:
            with transaction.atomic():
                users, known = {}, dict(passwords)
                for username, group, flags in ACCOUNTS:
                    users[username] = ensure_account(username, group, flags, passwords)
                if passwords != known:
                    write_passwords(path, passwords)
                weapons = load_weapon_types((DEMO_DIR / "weapon_types.csv").read_bytes(), actor=users["admin"])
                report = import_incidents(
                    (DEMO_DIR / "reference_incidents.csv").read_bytes(), actor=users["researcher"],
                    filename="reference_incidents.csv",
                )
                approved = approve_demo_incidents(
                    report.created + report.unchanged, users["researcher"], users["reviewer"]
                )
        except ImportFailed as failure:
            raise CommandError("\n".join([*map(str, failure.problems), str(failure)])) from None
        self._summary(weapons, report, approved, path, passwords)

    def _summary(self, weapons, report, approved, path, passwords):
        counts = report.counts()
        self.stdout.write(
            f"Weapon types: {len(weapons['created'])} created, {len(weapons['updated'])} updated, "
            f"{len(weapons['unchanged'])} unchanged."
        )
        self.stdout.write(
            f"Reference incidents: {counts['created']} imported, {counts['changed']} changed, "
            f"{counts['unchanged']} already loaded; {len(approved)} approved now."
        )
        in_review = Incident.objects.filter(reference_code__in=LEFT_IN_REVIEW, status=Status.IN_REVIEW)
        self.stdout.write(f"In the review queue: {', '.join(sorted(i.reference_code for i in in_review)) or 'none'}.")
        self.stdout.write(f"Demo accounts (passwords kept in {path}):")
        for username, group, _ in ACCOUNTS:
            password = passwords.get(username, "(not set by load_demo)")
            self.stdout.write(f"  {username:<12} {password:<20} {group}")
