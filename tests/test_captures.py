"""Captures of sources: hashes, storage, custody, evidence images, access and limits."""
import hashlib
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from PIL import Image

from archive import audit
from archive.models import AuditEvent
from sources import services
from sources.models import Capture, StoredFile
from tests import factories
from tests.images import PDF, image_bytes

FORMATS = ["JPEG", "PNG", "WEBP", "TIFF"]
EXTENSION = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "TIFF": "tif"}


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(root):
    return sorted(p for p in Path(root).rglob("*") if p.is_file())


def upload(name, data):
    return SimpleUploadedFile(name, data)


def attach(user, source, *uploads, **values):
    prepared = [services.prepare_upload(item) for item in uploads]
    return services.add_captures(actor=user, source=source, prepared=prepared, **values)


def post_captures(client, source, *uploads, **fields):
    return client.post(reverse("files:capture_create", args=[source.pk]), {"files": list(uploads), "method": "upload", **fields})


@pytest.mark.django_db
def test_a_pdf_capture_records_its_sha256_size_and_type_detected_from_the_content(researcher, media_root):
    source = factories.source()
    [capture] = attach(researcher, source, upload("report.download", PDF))
    assert capture.file.sha256 == hashlib.sha256(PDF).hexdigest()
    assert capture.file.size == len(PDF)
    assert capture.file.media_type == "application/pdf"
    assert capture.original_filename == "report.download"
    [path] = stored_files(media_root)
    assert path.name == capture.file.sha256 and path.read_bytes() == PDF
    event = AuditEvent.objects.get(action="capture.create")
    assert event.changes["sha256"] == capture.file.sha256 and event.actor == researcher


@pytest.mark.django_db
def test_the_same_bytes_are_stored_once_and_a_second_capture_is_a_custody_event(researcher, other_researcher, media_root):
    source = factories.source()
    attach(researcher, source, upload("a.pdf", PDF))
    attach(other_researcher, factories.source(), upload("b.pdf", PDF))
    assert StoredFile.objects.count() == 1 and Capture.objects.count() == 2
    assert len(stored_files(media_root)) == 1
    events = AuditEvent.objects.filter(action="capture.create").order_by("seq")
    assert [e.changes["new_file"] for e in events] == [True, False]
    assert [e.actor for e in events] == [researcher, other_researcher]


@pytest.mark.django_db
def test_a_web_archive_address_alone_is_a_capture(researcher):
    [capture] = attach(researcher, factories.source(), archive_url="https://web.archive.org/web/2020/https://example.org/")
    assert capture.file is None and capture.archive_url.startswith("https://web.archive.org/")


@pytest.mark.django_db
def test_a_capture_rolled_back_after_its_files_were_written_leaves_nothing_on_disk(researcher, media_root):
    prepared = [services.prepare_upload(upload("photo.jpg", image_bytes("JPEG")))]
    with pytest.raises(Exception):
        # An invalid web-archive address fails validation after the files were stored.
        services.add_captures(actor=researcher, source=factories.source(), prepared=prepared, archive_url="javascript:alert(1)")
    assert stored_files(media_root) == []
    assert not StoredFile.objects.exists() and not Capture.objects.exists()


REFUSED = {
    "decompression bomb": ("bomb.png", lambda: _bomb(), "limit of 40,000,000 pixels"),
    "truncated jpeg": ("cut.jpg", lambda: image_bytes("JPEG", size=(400, 300))[:700], "damaged or truncated"),
    "pdf renamed jpg": ("photo.jpg", lambda: PDF, "named .jpg but its content is a PDF"),
    "png renamed jpg": ("photo.jpg", lambda: image_bytes("PNG"), "named .jpg but its content is a PNG"),
    "svg with script": ("map.svg", lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/svg+xml"),
    "gif": ("anim.gif", lambda: _gif(), "image/gif"),
    "binary junk": ("data.bin", lambda: b"\x00\x01\x02" * 100, "application/octet-stream"),
    "empty file": ("empty.pdf", lambda: b"", "is empty"),
}


def _bomb():
    buffer = io.BytesIO()
    Image.new("1", (8000, 6000)).save(buffer, format="PNG")
    return buffer.getvalue()


def _gif():
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="GIF")
    return buffer.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("name,make,message", REFUSED.values(), ids=REFUSED.keys())
def test_refused_uploads_give_a_clear_message_and_write_nothing(researcher, client, media_root, name, make, message):
    source = factories.source()
    events = AuditEvent.objects.count()
    client.force_login(researcher)
    response = post_captures(client, source, upload(name, make()))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert stored_files(media_root) == [] and not Capture.objects.exists() and not StoredFile.objects.exists()
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db
def test_the_pixel_cap_is_configurable(researcher, settings):
    settings.ARCHIVE_MAX_IMAGE_PIXELS = 1000
    with pytest.raises(services.CaptureRefused, match="1,000 pixels"):
        services.prepare_upload(upload("small.png", image_bytes("PNG", size=(40, 30))))


@pytest.mark.django_db
def test_a_path_in_the_uploaded_name_never_reaches_the_file_system(researcher, media_root):
    [capture] = attach(researcher, factories.source(), upload("../../etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n"))
    assert capture.original_filename == "passwd"
    [path] = stored_files(media_root)
    assert Path(media_root) in path.parents and path.name == capture.file.sha256


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", FORMATS)
def test_image_metadata_is_extracted_for_staff_and_stripped_from_public_copies(researcher, fmt):
    original = image_bytes(fmt)
    [capture] = attach(researcher, factories.source(), upload(f"witness.{EXTENSION[fmt]}", original))
    assert capture.file.sha256 == hashlib.sha256(original).hexdigest()
    metadata = capture.restricted_metadata
    assert metadata["has_gps"] is True and metadata["camera_make"] == "TestCam"
    assert metadata["gps_latitude"] == pytest.approx(40.68) and metadata["gps_longitude"] == pytest.approx(46.36)
    for stored in (capture.derivative, capture.thumbnail):
        data = (Path(settings_media()) / stored.storage_name).read_bytes()
        assert_no_metadata(data)


def settings_media():
    from django.conf import settings

    return settings.MEDIA_ROOT


def assert_no_metadata(data):
    image = Image.open(io.BytesIO(data))
    assert not image.getexif(), "EXIF survived"
    assert not image.getexif().get_ifd(0x8825), "GPS survived"
    for marker in (b"Exif", b"GPS", b"xmpmeta", b"TestCam", b"witness", b"adobe"):
        assert marker not in data, f"{marker!r} found in a public copy"
    assert not {"exif", "xmp", "comment", "XML:com.adobe.xmp", "Comment", "icc_profile"} & set(image.info)


def test_the_metadata_check_would_catch_an_original():
    with pytest.raises(AssertionError):
        assert_no_metadata(image_bytes("JPEG"))


def published_with_source(source, researcher):
    allegation = factories.allegation(citations=0)
    allegation.citations = [factories.CitationData(source=source, quote="seen")]
    return factories.published_incident(author=researcher, allegations=[allegation])


@pytest.mark.django_db
def test_anonymous_visitors_get_only_derivatives_of_sources_cited_by_published_incidents(researcher, client):
    cited, uncited = factories.source(), factories.source()
    [public] = attach(researcher, cited, upload("a.jpg", image_bytes("JPEG")))
    [private] = attach(researcher, uncited, upload("b.jpg", image_bytes("JPEG", size=(32, 32))))
    published_with_source(cited, researcher)
    response = client.get(reverse("files:derivative", args=[public.pk, "image"]))
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert_no_metadata(b"".join(response.streaming_content))
    assert client.get(reverse("files:derivative", args=[public.pk, "thumbnail"])).status_code == 200
    assert client.get(reverse("files:original", args=[public.pk])).status_code == 404
    assert client.get(reverse("files:derivative", args=[private.pk, "image"])).status_code == 404
    assert client.get(reverse("files:derivative", args=[999999, "image"])).status_code == 404


@pytest.mark.django_db
def test_a_user_without_a_role_cannot_reach_originals_or_unpublished_derivatives(researcher, no_role_user, client):
    [capture] = attach(researcher, factories.source(), upload("a.jpg", image_bytes("JPEG")))
    client.force_login(no_role_user)
    assert client.get(reverse("files:original", args=[capture.pk])).status_code == 404
    assert client.get(reverse("files:derivative", args=[capture.pk, "image"])).status_code == 404


HOSTILE_NAMES = ['evil"; filename="x.exe.jpg', "line\r\nSet-Cookie: a=b.jpg", "photo\u202egpj.exe.jpg", "../../secret.jpg"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_originals_are_sent_as_attachments_with_a_safely_encoded_name_and_the_download_is_logged(researcher, client, name):
    [capture] = attach(researcher, factories.source(), upload(name, image_bytes("JPEG")))
    client.force_login(researcher)
    response = client.get(reverse("files:original", args=[capture.pk]))
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "\r" not in disposition and "\n" not in disposition and "\u202e" not in disposition
    assert "/" not in disposition.split("filename", 1)[1] or "%2F" in disposition
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == image_bytes("JPEG")
    event = AuditEvent.objects.get(action="file.downloaded")
    assert event.actor == researcher and event.changes == {"variant": "original", "sha256": capture.file.sha256}


@pytest.mark.django_db
def test_a_researcher_attaches_a_pdf_and_a_geotagged_jpeg_through_the_page(researcher, client, media_root):
    source = factories.source()
    client.force_login(researcher)
    response = post_captures(client, source, upload("report.pdf", PDF), upload("site.jpg", image_bytes("JPEG")))
    assert response.status_code == 302
    assert Capture.objects.filter(source=source).count() == 2
    jpeg = Capture.objects.get(source=source, file__media_type="image/jpeg")
    assert jpeg.restricted_metadata["has_gps"] and jpeg.derivative is not None


@pytest.mark.django_db
def test_only_researchers_attach_captures(client, reviewer, no_role_user):
    source = factories.source()
    url = reverse("files:capture_create", args=[source.pk])
    assert client.get(url).status_code == 302
    client.force_login(no_role_user)
    assert client.post(url, {"files": [upload("a.pdf", PDF)]}).status_code == 403
    client.force_login(reviewer)
    assert client.post(url, {"files": [upload("a.pdf", PDF)]}).status_code == 403
    assert not Capture.objects.exists()


@pytest.mark.django_db
def test_an_upload_over_the_size_limit_is_refused_with_its_size(researcher, client, settings, media_root):
    settings.ARCHIVE_MAX_UPLOAD_BYTES = 20
    client.force_login(researcher)
    response = post_captures(client, factories.source(), upload("report.pdf", PDF))
    assert response.status_code == 400 and "the limit is 20 bytes" in response.content.decode()
    assert stored_files(media_root) == [] and not Capture.objects.exists()


@pytest.mark.django_db
def test_too_many_files_in_one_request_are_refused_and_nothing_is_written(researcher, client, settings, media_root):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    client.force_login(researcher)
    response = post_captures(client, factories.source(), *[upload(f"r{i}.txt", f"text {i}".encode()) for i in range(3)])
    assert response.status_code == 400
    assert stored_files(media_root) == [] and not Capture.objects.exists()


@pytest.mark.django_db
def test_verify_files_passes_then_names_a_changed_and_a_missing_file(researcher, media_root, capsys):
    [pdf] = attach(researcher, factories.source(), upload("r.pdf", PDF))
    [text] = attach(researcher, factories.source(), upload("n.txt", b"notes"))
    call_command("verify_files")
    assert "2 stored files verified" in capsys.readouterr().out
    path = Path(media_root) / pdf.file.storage_name
    path.write_bytes(path.read_bytes().replace(b"%PDF-1.4", b"%PDF-1.5"))
    (Path(media_root) / text.file.storage_name).unlink()
    with pytest.raises(CommandError, match="2 of 2"):
        call_command("verify_files")
    errors = capsys.readouterr().err
    assert f"changed: file #{pdf.file.pk}" in errors and f"missing: file #{text.file.pk}" in errors
    assert AuditEvent.objects.filter(action="file.verified.changed").count() == 1
    assert audit.verify().ok
