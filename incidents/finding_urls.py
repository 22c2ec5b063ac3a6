"""Finding and comparing: the balance view, the map, the timeline and the exports of the current filter.

Included in archive/urls.py before incidents.urls, so that /incidents/export.*
is matched before any /incidents/<...> pattern.
"""
from django.urls import path

from . import finding_views

app_name = "finding"
urlpatterns = [
    path("balance/", finding_views.balance, name="balance"),
    path("map/", finding_views.incident_map, name="map"),
    path("timeline/", finding_views.timeline, name="timeline"),
    path("incidents/export.csv", finding_views.export_csv, name="export_csv"),
    path("incidents/export.json", finding_views.export_json, name="export_json"),
    path("incidents/export.geojson", finding_views.export_geojson, name="export_geojson"),
]
