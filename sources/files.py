"""Storing captured bytes: content detection, hashing, content-addressed storage.

Files are stored under names made from their SHA-256, so the same bytes are
kept once and no uploaded name ever reaches the file system.
"""
import hashlib
import io
import zipfile

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from .models import StoredFile

CHUNK = 1024 * 1024

# What a capture may hold, detected from the bytes themselves.
CAPTURE_TYPES = {
    "application/pdf": "PDF document",
    "text/html": "HTML page",
    "text/plain": "plain text",
    "image/jpeg": "JPEG image",
    "image/png": "PNG image",
    "image/webp": "WebP image",
    "image/tiff": "TIFF image",
    "application/warc": "WARC web archive",
    "application/wacz": "WACZ web archive",
}
IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp", "image/tiff"}

# What a file's name says it is, for refusing a PDF renamed photo.jpg.
EXTENSIONS = {
    "pdf": {"application/pdf"},
    "html": {"text/html"}, "htm": {"text/html"},
    "txt": {"text/plain"}, "text": {"text/plain"}, "md": {"text/plain"}, "csv": {"text/plain"},
    "jpg": {"image/jpeg"}, "jpeg": {"image/jpeg"}, "jpe": {"image/jpeg"},
    "png": {"image/png"}, "webp": {"image/webp"}, "tif": {"image/tiff"}, "tiff": {"image/tiff"},
    "warc": {"application/warc"}, "wacz": {"application/wacz"},
}


class FileRefused(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


def read_all(upload):
    upload.seek(0)
    return b"".join(upload.chunks(CHUNK)) if hasattr(upload, "chunks") else upload.read()


def detect_media_type(data):
    head = data[:512]
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head[:4] == b"GIF8":
        return "image/gif"
    if head.startswith(b"WARC/"):
        return "application/warc"
    if head.startswith(b"PK\x03\x04"):
        return _zip_type(data)
    return _text_type(data)


def _zip_type(data):
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if "datapackage.json" in archive.namelist():
                return "application/wacz"
    except zipfile.BadZipFile:
        pass
    return "application/zip"


def _text_type(data):
    if b"\x00" in data[:8192]:
        return "application/octet-stream"
    try:
        text = data[:8192].decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data[:8190].decode("utf-8")
        except UnicodeDecodeError:
            return "application/octet-stream"
    start = text.lstrip("\ufeff \t\r\n").lower()
    if start.startswith("<svg") or (start.startswith("<?xml") and "<svg" in start):
        return "image/svg+xml"
    if start.startswith(("<!doctype html", "<html")):
        return "text/html"
    return "text/plain"


def extension_of(filename):
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def check_name_matches(filename, media_type):
    extension = extension_of(filename)
    if extension in EXTENSIONS and media_type not in EXTENSIONS[extension]:
        described = CAPTURE_TYPES.get(media_type, media_type)
        raise FileRefused(f"“{safe_display_name(filename)}” is named .{extension} but its content is a {described}.")


def safe_display_name(filename):
    """The last path part of an uploaded name, without control or direction-override characters."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in name if ch.isprintable() and ch not in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")[:255]


def storage_name(sha256):
    return f"objects/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def store(data, media_type, written):
    """Return the StoredFile for these bytes, writing them only if new; names written go into `written`."""
    digest = sha256_bytes(data)
    existing = StoredFile.objects.filter(sha256=digest).first()
    if existing is not None:
        return existing, False
    name = storage_name(digest)
    if not default_storage.exists(name):
        saved = default_storage.save(name, ContentFile(data))
        if saved != name:
            default_storage.delete(saved)
            raise FileRefused("The file store refused the file name; nothing was kept.")
        written.append(name)
    stored = StoredFile.objects.create(
        sha256=digest, size=len(data), media_type=media_type, storage_name=name, stored_at=timezone.now()
    )
    return stored, True


def rehash(stored):
    """The SHA-256 of the bytes on disk now, or None when the file is gone."""
    if not default_storage.exists(stored.storage_name):
        return None
    digest = hashlib.sha256()
    with default_storage.open(stored.storage_name, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def discard(names):
    for name in names:
        if default_storage.exists(name):
            default_storage.delete(name)
