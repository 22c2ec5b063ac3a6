"""The review queue, the workflow's POST endpoints, and each incident's history and revision diffs."""
from django.urls import path

from . import review_views as views

app_name = "review"
urlpatterns = [
    path("review/", views.queue, name="queue"),
    path("incidents/<int:pk>/submit/", views.submit, name="submit"),
    path("incidents/<int:pk>/approve/", views.approve, name="approve"),
    path("incidents/<int:pk>/request-changes/", views.request_changes, name="request_changes"),
    path("incidents/<int:pk>/withdraw/", views.withdraw, name="withdraw"),
    path("incidents/<int:pk>/discard/", views.discard, name="discard"),
    path("incidents/<int:pk>/history/", views.history, name="history"),
    path("incidents/<int:pk>/revisions/", views.revisions, name="revisions"),
]
