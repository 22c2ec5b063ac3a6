"""manage.py load_demo: demo accounts and the reference incidents, loaded the way users would load them."""
import io
import stat

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from archive import audit, roles
from archive.models import AuditEvent
from incidents.management.commands.load_demo import DEMO_DIR, LEFT_IN_REVIEW
from incidents.models import Allegation, Incident, Review, WeaponType
from sources.models import Citation, Source


@pytest.fixture
def demo_settings(settings, tmp_path):
    settings.DEBUG = True
    settings.VAR_DIR = tmp_path
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings


def load_demo():
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def counts():
    models = (User, Incident, Allegation, Citation, Source, WeaponType, Review, AuditEvent)
    return {model.__name__: model.objects.count() for model in models}


def test_loading_the_demo_twice_changes_nothing_the_second_time(db, demo_settings):
    first_output = load_demo()
    before, head = counts(), audit.head()

    second_output = load_demo()

    assert counts() == before
    assert audit.head() == head
    assert "0 imported, 0 changed, 15 already loaded; 0 approved now" in second_output
    assert first_output.split("Demo accounts")[1] == second_output.split("Demo accounts")[1]
    assert audit.verify().ok


def test_demo_accounts_exist_with_their_roles(db, demo_settings):
    load_demo()

    accounts = {user.username: user for user in User.objects.filter(username__in=["researcher", "researcher2", "reviewer", "admin"])}
    assert set(accounts) == {"researcher", "researcher2", "reviewer", "admin"}
    assert list(accounts["researcher"].groups.values_list("name", flat=True)) == ["researcher"]
    assert list(accounts["researcher2"].groups.values_list("name", flat=True)) == ["researcher"]
    assert list(accounts["reviewer"].groups.values_list("name", flat=True)) == ["reviewer"]
    assert list(accounts["admin"].groups.values_list("name", flat=True)) == ["administrator"]
    assert accounts["admin"].is_staff and accounts["admin"].is_superuser
    assert not accounts["researcher"].is_staff
    assert roles.is_researcher(accounts["researcher2"]) and roles.is_reviewer(accounts["reviewer"])


def test_demo_passwords_are_random_kept_in_var_and_printed_again(db, demo_settings, tmp_path):
    output = load_demo()

    path = tmp_path / "demo-accounts.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    passwords = dict(line.split(" ", 1) for line in path.read_text().splitlines() if not line.startswith("#"))
    assert set(passwords) == {"researcher", "researcher2", "reviewer", "admin"}
    assert len(set(passwords.values())) == 4
    for username, password in passwords.items():
        assert User.objects.get(username=username).check_password(password)
        assert password in output


def test_the_demo_publishes_most_incidents_and_leaves_three_in_review(db, demo_settings):
    load_demo()

    assert Incident.objects.count() == 15
    assert Incident.objects.published().count() == 12
    in_review = Incident.objects.filter(status="in_review")
    assert sorted(in_review.values_list("reference_code", flat=True)) == sorted(LEFT_IN_REVIEW)
    assert set(Incident.objects.values_list("created_by__username", flat=True)) == {"researcher"}
    assert set(Review.objects.values_list("reviewer__username", flat=True)) == {"reviewer"}
    assert Review.objects.filter(decision="approve").count() == 12


def test_the_demo_loads_weapon_types_classified_and_without_curation_flags(db, demo_settings):
    load_demo()

    assert WeaponType.objects.count() == 16
    assert not WeaponType.objects.filter(needs_curation=True).exists()
    assert WeaponType.objects.get(name="9N235").is_cluster_munition == "yes"


def test_the_demo_reads_its_own_copies_of_the_reference_data():
    assert DEMO_DIR == django_settings.BASE_DIR / "incidents" / "demo"
    for name in ("reference_incidents.csv", "weapon_types.csv", "violation_types.csv"):
        assert (DEMO_DIR / name).is_file()


def test_load_demo_refuses_when_debug_is_off(db, settings, tmp_path):
    settings.DEBUG = False
    settings.VAR_DIR = tmp_path

    with pytest.raises(CommandError) as raised:
        load_demo()

    assert "runs only with DEBUG on" in str(raised.value)
    assert not User.objects.filter(username__in=["researcher", "reviewer", "admin"]).exists()
    assert not Incident.objects.exists()
    assert not (tmp_path / "demo-accounts.txt").exists()
