from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents and allegations"

    def ready(self):
        from sources.services import organization_reclassified, source_reattributed

        from . import tally

        source_reattributed.connect(tally.source_reattributed, dispatch_uid="incidents.tally")
        organization_reclassified.connect(tally.organization_reclassified, dispatch_uid="incidents.tally")
