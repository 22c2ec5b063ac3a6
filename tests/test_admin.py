"""Writes made in the admin go through the audit log; incidents and sources are not written there at all."""
import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from archive import audit
from archive.models import AuditEvent
from incidents.models import Incident, Party
from sources.models import Organization
from tests import factories


def party_form(party, **changes):
    data = {"name": party.name, "slug": party.slug, "aliases": party.aliases, "side": party.side_id or "",
            "kind": party.kind, "description": party.description}
    data.update(changes)
    return data


def test_an_admin_change_to_a_party_writes_an_audit_entry_with_before_and_after(admin_client, admin_user):
    party = factories.party("Armed Forces of X")

    response = admin_client.post(
        reverse("admin:incidents_party_change", args=[party.pk]),
        party_form(party, name="Armed Forces of the Republic of X", kind="state_forces"),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(action="party.admin_change")
    assert (event.actor, event.target_id) == (admin_user, str(party.pk))
    assert event.changes == {
        "via": "admin",
        "changed": {"name": ["Armed Forces of X", "Armed Forces of the Republic of X"],
                    "kind": ["unknown", "state_forces"]},
    }
    assert audit.verify().ok


def test_saving_a_party_unchanged_in_the_admin_writes_no_entry(admin_client):
    party = factories.party("Armed Forces of X")
    since = AuditEvent.objects.count()

    admin_client.post(reverse("admin:incidents_party_change", args=[party.pk]), party_form(party))

    assert AuditEvent.objects.count() == since


def test_adding_and_deleting_an_organization_in_the_admin_are_audited(admin_client, admin_user):
    response = admin_client.post(reverse("admin:sources_organization_add"), {
        "name": "Monitor Y", "slug": "monitor-y", "kind": "ngo", "affiliation": "", "website": "",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    organization = Organization.objects.get(name="Monitor Y")

    admin_client.post(reverse("admin:sources_organization_delete", args=[organization.pk]), {"post": "yes"})

    assert not Organization.objects.filter(pk=organization.pk).exists()
    added, deleted = AuditEvent.objects.filter(action__startswith="organization.admin_").order_by("seq")
    assert (added.action, added.actor, added.changes["after"]["name"]) == ("organization.admin_add", admin_user, "Monitor Y")
    assert (deleted.action, deleted.target_id, deleted.changes["before"]["name"]) == (
        "organization.admin_delete", str(organization.pk), "Monitor Y"
    )


def test_deleting_parties_in_bulk_from_the_list_audits_each_one(admin_client):
    parties = [factories.party("Group A", "Side A"), factories.party("Group B", "Side A")]

    admin_client.post(reverse("admin:incidents_party_changelist"), {
        "action": "delete_selected", "_selected_action": [p.pk for p in parties], "post": "yes",
    })

    assert not Party.objects.filter(pk__in=[p.pk for p in parties]).exists()
    assert sorted(AuditEvent.objects.filter(action="party.admin_delete").values_list("target_repr", flat=True)) == [
        "Group A", "Group B"
    ]


def test_an_incident_cannot_be_changed_added_or_deleted_through_the_admin(admin_client, researcher):
    incident = factories.incident(author=researcher, title="Shelling of a market")
    since = AuditEvent.objects.count()

    change = admin_client.post(reverse("admin:incidents_incident_change", args=[incident.pk]), {"title": "Rewritten"})
    add = admin_client.get(reverse("admin:incidents_incident_add"))
    delete = admin_client.post(reverse("admin:incidents_incident_delete", args=[incident.pk]), {"post": "yes"})
    view = admin_client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))

    assert (change.status_code, add.status_code, delete.status_code) == (403, 403, 403)
    assert view.status_code == 200 and 'name="_save"' not in view.content.decode()
    assert Incident.objects.get(pk=incident.pk).title == "Shelling of a market"
    assert AuditEvent.objects.count() == since


@pytest.mark.parametrize("model", ["incidents.allegation", "incidents.incidentrevision", "incidents.review",
                                   "sources.source", "sources.citation", "archive.auditevent"])
def test_records_written_by_services_are_read_only_in_the_admin(admin_client, model):
    app_label, model_name = model.split(".")
    assert admin_client.get(reverse(f"admin:{app_label}_{model_name}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"admin:{app_label}_{model_name}_add")).status_code == 403


def test_an_audit_entry_cannot_be_deleted_through_the_admin(admin_client, researcher):
    factories.incident(author=researcher)
    event = AuditEvent.objects.order_by("seq").first()

    response = admin_client.post(reverse("admin:archive_auditevent_delete", args=[event.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_granting_a_role_in_the_admin_is_audited_without_the_password_hash(admin_client, no_role_user):
    url = reverse("admin:auth_user_change", args=[no_role_user.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "password"}
    data.update({
        "username": no_role_user.username, "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
        "groups": [Group.objects.get(name="reviewer").pk], "user_permissions": [], "is_active": "on",
    })
    data.pop("last_login", None)
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(action="user.admin_relations")
    assert event.changes["changed"]["groups"] == [[], ["reviewer"]]
    assert no_role_user.password not in str(AuditEvent.objects.filter(target_type="auth.user").values_list("changes"))
    assert audit.verify().ok


def test_the_audit_logs_filters_list_the_actions_and_target_types_there_are(admin_client):
    from archive.admin import distinct_values

    factories.published_incident()
    actions = sorted(set(AuditEvent.objects.values_list("action", flat=True)))
    assert distinct_values(AuditEvent, "action") == actions and "incident.approve" in actions
    assert distinct_values(AuditEvent, "target_type") == sorted(set(AuditEvent.objects.values_list("target_type",
                                                                                                   flat=True)))
    page = admin_client.get(reverse("admin:archive_auditevent_changelist")).content.decode()
    assert "?action=incident.approve" in page
    filtered = admin_client.get(reverse("admin:archive_auditevent_changelist"), {"action": "incident.approve"})
    assert [row.action for row in filtered.context["cl"].result_list] == ["incident.approve"]
