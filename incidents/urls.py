from django.urls import path
from django.views.generic import RedirectView

from . import views

app_name = "incidents"
urlpatterns = [
    path("", views.incident_list, name="list"),
    path("incidents/", RedirectView.as_view(pattern_name="incidents:list", query_string=True)),
    path("incidents/new/", views.incident_create, name="create"),
    path("incidents/<int:pk>/", views.incident_detail, name="detail"),
    path("incidents/<int:pk>/edit/", views.incident_edit, name="edit"),
]
