"""Evidence images: verify and decode with Pillow, extract metadata, make stripped derivatives.

The original is kept byte for byte (restricted). The public sees a re-encoded
derivative and thumbnail built from pixels alone, so no EXIF, XMP, IPTC, ICC
or comment block can travel with them.
"""
import io
import warnings

from django.conf import settings
from PIL import ExifTags, Image, ImageFile, ImageOps, UnidentifiedImageError

ImageFile.LOAD_TRUNCATED_IMAGES = False
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "TIFF": "image/tiff"}
DERIVATIVE_MAX_SIDE = 2048
THUMBNAIL_SIDE = 320


class ImageRefused(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


def pixel_cap():
    return int(getattr(settings, "ARCHIVE_MAX_IMAGE_PIXELS", 40_000_000))


def _open(data):
    cap = pixel_cap()
    Image.MAX_IMAGE_PIXELS = cap
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(FORMATS))
            if image.width * image.height > cap:
                raise ImageRefused(
                    f"The image is {image.width}×{image.height} pixels, more than the limit of {cap:,} pixels."
                )
            return image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRefused(f"The image declares more than the limit of {cap:,} pixels (a decompression bomb?).") from None
    except UnidentifiedImageError:
        raise ImageRefused(
            "The image cannot be read: it is damaged or truncated, or not really a JPEG, PNG, WebP or TIFF image."
        ) from None


def decode(data):
    """Verify and fully decode the image; return it loaded, or refuse with a clear message."""
    image = _open(data)
    try:
        image.verify()
        image = _open(data)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except ImageRefused:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning, EOFError) as error:
        raise ImageRefused(f"The image is damaged or truncated and cannot be decoded ({error}).") from None
    if image.format not in FORMATS:
        raise ImageRefused(f"{image.format} images are not accepted; use JPEG, PNG, WebP or TIFF.")
    return image


def _rational(value):
    try:
        return float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None


def _gps_degrees(values, ref):
    try:
        degrees, minutes, seconds = (_rational(v) for v in values)
        result = degrees + minutes / 60 + seconds / 3600
    except (TypeError, ValueError):
        return None
    return round(-result if ref in ("S", "W") else result, 7)


def extract_metadata(image):
    """Camera, capture time and GPS position from EXIF, for restricted display."""
    exif = image.getexif()
    if not exif:
        return {}
    tags = {ExifTags.TAGS.get(tag, str(tag)): value for tag, value in exif.items()}
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    metadata = {
        "camera_make": str(tags.get("Make", "")).strip("\x00 ") or None,
        "camera_model": str(tags.get("Model", "")).strip("\x00 ") or None,
        "software": str(tags.get("Software", "")).strip("\x00 ") or None,
        "taken_at": str(sub.get(ExifTags.Base.DateTimeOriginal) or tags.get("DateTime") or "").strip("\x00 ") or None,
    }
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    if gps:
        latitude = _gps_degrees(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef))
        longitude = _gps_degrees(gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef))
        metadata["gps_latitude"] = latitude
        metadata["gps_longitude"] = longitude
        metadata["has_gps"] = True
    return {key: value for key, value in metadata.items() if value is not None}


def _pixels_only(image):
    """A new image holding only the pixels, oriented as the camera meant."""
    oriented = ImageOps.exif_transpose(image)
    mode = "RGBA" if oriented.mode in ("RGBA", "LA", "PA") or "transparency" in oriented.info else "RGB"
    converted = oriented.convert(mode)
    clean = Image.new(mode, converted.size)
    clean.paste(converted)
    return clean


def _encode(image):
    buffer = io.BytesIO()
    if image.mode == "RGBA":
        image.save(buffer, format="PNG", optimize=True)
        return buffer.getvalue(), "image/png"
    image.save(buffer, format="JPEG", quality=85, optimize=True)
    return buffer.getvalue(), "image/jpeg"


def derivatives(image):
    """(derivative bytes, type), (thumbnail bytes, type): re-encoded, metadata-free."""
    clean = _pixels_only(image)
    large = clean.copy()
    large.thumbnail((DERIVATIVE_MAX_SIDE, DERIVATIVE_MAX_SIDE))
    small = clean.copy()
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    return _encode(large), _encode(small)
