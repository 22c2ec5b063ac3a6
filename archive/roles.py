"""Roles are Django groups with permissions (created by a migration in incidents).

Code asks about permissions, never group names, so an administrator can
compose roles in the admin without touching code.
"""
RESEARCHER = "researcher"
REVIEWER = "reviewer"
ADMINISTRATOR = "administrator"

RECORD_PERMISSION = "incidents.add_incident"
REVIEW_PERMISSION = "incidents.review_incident"
RESTRICTED_PERMISSION = "incidents.view_restricted"


def is_researcher(user):
    return user.is_authenticated and user.is_active and user.has_perm(RECORD_PERMISSION)


def is_reviewer(user):
    return user.is_authenticated and user.is_active and user.has_perm(REVIEW_PERMISSION)


def sees_restricted(user):
    return user.is_authenticated and user.is_active and user.has_perm(RESTRICTED_PERMISSION)
