"""Attaching captures to sources, and every download of a stored file.

No file is served from MEDIA_ROOT: each download is checked against who may
see it, answered 404 when they may not, and sent with nosniff.
"""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.exceptions import TooManyFilesSent
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from archive import roles

from . import files, services
from .capture_forms import CaptureForm
from .models import Capture, Source

EXTENSION_OF_TYPE = {
    "application/pdf": "pdf", "text/html": "html", "text/plain": "txt", "image/jpeg": "jpg", "image/png": "png",
    "image/webp": "webp", "image/tiff": "tif", "application/warc": "warc", "application/wacz": "wacz",
}


@login_required
def capture_create(request, pk):
    if not roles.is_researcher(request.user):
        raise PermissionDenied("Only researchers can attach captures.")
    source = get_object_or_404(Source.objects.select_related("organization"), pk=pk)
    if request.method != "POST":
        return render(request, "files/capture_form.html", {"form": CaptureForm(), "source": source})
    try:
        form = CaptureForm(request.POST, request.FILES)
        valid = form.is_valid()
    except TooManyFilesSent:
        return _refused(request, source, "Too many files in one request. Attach at most "
                        f"{_max_files()} files at a time.", status=400)
    if not valid:
        return render(request, "files/capture_form.html", {"form": form, "source": source}, status=400)
    try:
        prepared = [services.prepare_upload(upload) for upload in form.cleaned_data["files"]]
        captures = services.add_captures(
            actor=request.user, source=source, prepared=prepared,
            archive_url=form.cleaned_data["archive_url"], captured_at=form.cleaned_data["captured_at"],
            method=form.cleaned_data["method"], notes=form.cleaned_data["notes"],
        )
    except services.SourceError as error:
        form.add_error(None, error.message)
        return render(request, "files/capture_form.html", {"form": form, "source": source}, status=error.status)
    messages.success(request, f"{len(captures)} capture(s) attached; SHA-256 recorded.")
    return redirect("sources:detail", pk=source.pk)


def _max_files():
    from django.conf import settings

    return settings.DATA_UPLOAD_MAX_NUMBER_FILES


def _refused(request, source, message, status):
    context = {"form": CaptureForm(), "source": source, "refusal": message}
    return render(request, "files/capture_form.html", context, status=status)


def _send(stored, *, filename, attachment):
    if not default_storage.exists(stored.storage_name):
        raise Http404("The stored file is missing.")
    response = FileResponse(
        default_storage.open(stored.storage_name, "rb"), as_attachment=attachment, filename=filename,
        content_type=stored.media_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store" if attachment else "private, max-age=300"
    return response


def _download_name(capture, stored, variant):
    extension = EXTENSION_OF_TYPE.get(stored.media_type, "bin")
    if variant == "original" and capture.original_filename:
        return files.safe_display_name(capture.original_filename) or f"capture-{capture.pk}.{extension}"
    return f"capture-{capture.pk}-{variant}.{extension}"


@require_GET
def original(request, pk):
    capture = get_object_or_404(Capture.objects.originals_visible_to(request.user).select_related("file"), pk=pk)
    services.record_download(actor=request.user, capture=capture, variant="original")
    return _send(capture.file, filename=_download_name(capture, capture.file, "original"), attachment=True)


@require_GET
def derivative(request, pk, variant):
    if variant not in ("image", "thumbnail"):
        raise Http404
    captures = Capture.objects.derivatives_visible_to(request.user).select_related("derivative", "thumbnail")
    capture = get_object_or_404(captures, pk=pk)
    # Derivatives carry no metadata and are shown inline on pages, so viewing one is
    # not a custody event; downloads of originals are.
    stored = capture.derivative if variant == "image" else capture.thumbnail
    return _send(stored, filename=_download_name(capture, stored, variant), attachment=False)
