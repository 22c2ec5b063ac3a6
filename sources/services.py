"""Writes to organizations and sources, each with its audit entry."""
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.utils.text import slugify

from archive import audit

from .models import Organization, Source

# Sent inside edit_source()'s transaction when a source is moved to another organization, so that counts
# derived in apps that depend on this one (incidents' balance tally) follow; sources never import them.
source_reattributed = Signal()
# Sent inside the write that changes an organization's kind or party affiliation (the admin's), for the same.
organization_reclassified = Signal()

# The foreign keys full_clean() checks with a query each.
_REFERENCES = ["organization", "created_by"]
SOURCE_FIELDS = ["organization", "title", "kind", "published_on", "published_form", "url", "language", "reliability"]


class SourceError(Exception):
    status = 400

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def _values(source):
    return {
        name: (getattr(source, name).pk if name == "organization" else getattr(source, name))
        for name in SOURCE_FIELDS
    }


def _unique_slug(name):
    base = slugify(name)[:180] or "organization"
    slug, n = base, 2
    while Organization.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def add_organization(*, actor, name, kind="unknown", is_party_affiliated=False, via="form"):
    organization = Organization.objects.create(
        name=name.strip(), slug=_unique_slug(name), kind=kind, is_party_affiliated=is_party_affiliated
    )
    audit.record(
        actor=actor, action="organization.create", target=organization,
        changes={"via": via, "after": {"name": organization.name, "kind": kind, "is_party_affiliated": is_party_affiliated}},
    )
    return organization


@transaction.atomic
def add_source(*, actor, via="form", **values):
    source = Source(created_by=actor, **values)
    source.full_clean()
    source.save()
    audit.record(actor=actor, action="source.create", target=source, changes={"via": via, "after": _values(source)})
    return source


@transaction.atomic
def add_sources(*, actor, sources, via="import"):
    """Add many sources (`sources`: add_source's keyword values, one dict each) in a few queries.

    Each gets add_source's checks and audit entry, in order. Instead of a query per source
    and reference, each organization and user referenced is looked up once; instead of a
    query per source and constraint, the database enforces the constraints on the batch
    insert. If anything is refused, the sources are checked one by one, so that the error
    is add_source's.
    """
    sources = [Source(created_by=actor, **values) for values in sources]
    try:
        for source in sources:
            source.full_clean(exclude=_REFERENCES, validate_constraints=False)
        for name in _REFERENCES:
            field = Source._meta.get_field(name)
            for value in {getattr(source, field.attname) for source in sources}:
                field.clean(value, sources[0])
        with transaction.atomic():
            Source.objects.bulk_create(sources)
    except (ValidationError, IntegrityError):
        for source in sources:
            source.full_clean()
        raise
    audit.record_many(
        {"actor": actor, "action": "source.create", "target": source, "changes": {"via": via, "after": _values(source)}}
        for source in sources
    )
    return sources


@transaction.atomic
def edit_source(*, actor, source, **values):
    source = Source.objects.select_for_update().get(pk=source.pk)
    before = _values(source)
    for name, value in values.items():
        setattr(source, name, value)
    source.full_clean()
    after = _values(source)
    if after == before:
        return source
    source.save()
    changed = {name: [before[name], after[name]] for name in SOURCE_FIELDS if before[name] != after[name]}
    if "organization" in changed:
        # Derived counts elsewhere (the incidents' balance tally) are keyed by the cited organization.
        source_reattributed.send(sender=Source, source=source)
    audit.record(actor=actor, action="source.update", target=source, changes={"changed": changed})
    return source


class CaptureRefused(SourceError):
    pass


def _read_upload(upload):
    from django.conf import settings

    from . import files

    limit = int(getattr(settings, "ARCHIVE_MAX_UPLOAD_BYTES", 50 * 1024 * 1024))
    if upload.size is not None and upload.size > limit:
        raise CaptureRefused(f"“{files.safe_display_name(upload.name)}” is {upload.size:,} bytes; the limit is {limit:,} bytes.")
    data = files.read_all(upload)
    if len(data) > limit:
        raise CaptureRefused(f"The file is larger than the limit of {limit:,} bytes.")
    if not data:
        raise CaptureRefused(f"“{files.safe_display_name(upload.name)}” is empty.")
    return data


def prepare_upload(upload):
    """Read, identify and (for images) decode an upload before anything is written."""
    from . import files, images

    data = _read_upload(upload)
    media_type = files.detect_media_type(data)
    name = files.safe_display_name(upload.name)
    if media_type not in files.CAPTURE_TYPES:
        raise CaptureRefused(
            f"“{name}” is {media_type}, which the archive does not keep. "
            "Accepted: PDF, HTML, plain text, JPEG, PNG, WebP, TIFF, WARC and WACZ."
        )
    try:
        files.check_name_matches(upload.name, media_type)
    except files.FileRefused as error:
        raise CaptureRefused(error.message) from None
    prepared = {"data": data, "media_type": media_type, "original_filename": name}
    if media_type in files.IMAGE_TYPES:
        try:
            image = images.decode(data)
            prepared["metadata"] = images.extract_metadata(image)
            prepared["size"] = image.size
            prepared["derivatives"] = images.derivatives(image)
        except images.ImageRefused as error:
            raise CaptureRefused(f"“{name}”: {error.message}") from None
    return prepared


def add_captures(*, actor, source, prepared=(), archive_url="", captured_at=None, method="upload", notes=""):
    """Attach archived copies to a source: one capture per file, or one for a web-archive address alone.

    All or nothing: files written for a refused or rolled-back request are removed.
    """
    from . import files

    written = []
    try:
        return _add_captures(actor, source, list(prepared), archive_url, captured_at, method, notes, written)
    except BaseException:
        files.discard(written)
        raise


@transaction.atomic
def _add_captures(actor, source, prepared, archive_url, captured_at, method, notes, written):
    if not prepared and not archive_url:
        raise CaptureRefused("Attach a file or give the address of a web-archive copy.")
    return [
        _add_capture(actor, source, item, archive_url, captured_at, method, notes, written)
        for item in (prepared or [None])
    ]


def _add_capture(actor, source, prepared, archive_url, captured_at, method, notes, written):
    from django.utils import timezone

    from . import files
    from .models import Capture

    capture = Capture(
        source=source, archive_url=archive_url, captured_at=captured_at or timezone.now(), captured_by=actor,
        method=method, notes=notes,
    )
    changes = {"source": source.pk, "archive_url": archive_url, "method": method}
    if prepared is not None:
        stored, new = files.store(prepared["data"], prepared["media_type"], written)
        capture.file = stored
        capture.original_filename = prepared["original_filename"]
        changes.update(sha256=stored.sha256, size=stored.size, media_type=stored.media_type, new_file=new,
                       original_filename=capture.original_filename)
        if "derivatives" in prepared:
            (large, large_type), (small, small_type) = prepared["derivatives"]
            capture.derivative, _ = files.store(large, large_type, written)
            capture.thumbnail, _ = files.store(small, small_type, written)
            capture.restricted_metadata = prepared["metadata"]
            capture.width, capture.height = prepared["size"]
            changes.update(derivative_sha256=capture.derivative.sha256, thumbnail_sha256=capture.thumbnail.sha256,
                           gps_found=bool(prepared["metadata"].get("has_gps")))
    capture.full_clean()
    capture.save()
    audit.record(actor=actor, action="capture.create", target=capture, changes=changes, scope=f"source:{source.pk}")
    return capture


@transaction.atomic
def record_download(*, actor, capture, variant):
    """Custody: who took a copy of which stored file."""
    stored = {"original": capture.file, "derivative": capture.derivative, "thumbnail": capture.thumbnail}[variant]
    audit.record(
        actor=actor, action="file.downloaded", target=capture,
        changes={"variant": variant, "sha256": stored.sha256}, scope=f"source:{capture.source_id}",
    )


@transaction.atomic
def record_verification(*, stored, found_sha256):
    """Custody: the result of re-hashing a stored file (system actor)."""
    status = "ok" if found_sha256 == stored.sha256 else ("missing" if found_sha256 is None else "changed")
    audit.record(
        actor=None, action=f"file.verified.{status}", target=stored,
        changes={"expected": stored.sha256, "found": found_sha256}, scope=f"storedfile:{stored.pk}",
    )
    return status
