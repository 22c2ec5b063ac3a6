from django.contrib import admin
from django.urls import include, path

from archive.throttle import LoginView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("sources.capture_urls")),
    path("sources/", include("sources.urls")),
    path("", include("incidents.review_urls")),
    path("", include("incidents.finding_urls")),
    path("", include("incidents.urls")),
]
