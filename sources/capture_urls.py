from django.urls import path

from . import capture_views

app_name = "files"
urlpatterns = [
    path("sources/<int:pk>/captures/new/", capture_views.capture_create, name="capture_create"),
    path("files/<int:pk>/original/", capture_views.original, name="original"),
    path("files/<int:pk>/<str:variant>/", capture_views.derivative, name="derivative"),
]
