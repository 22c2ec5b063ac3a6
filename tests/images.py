"""Test images made on the fly, with EXIF (camera, time, GPS) and XMP blocks to be stripped."""
import io

from PIL import Image, PngImagePlugin

XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="40,40.8N"/></rdf:RDF></x:xmpmeta>')
LATITUDE, LONGITUDE = (40, 40, 48.0), (46, 21, 36.0)  # 40.68, 46.36 (Ganja)


def exif_with_gps():
    exif = Image.Exif()
    exif[0x010F] = "TestCam"           # Make
    exif[0x0110] = "Model 7"           # Model
    exif[0x0132] = "2020:10:11 02:00:00"  # DateTime
    exif[0x8825] = {1: "N", 2: LATITUDE, 3: "E", 4: LONGITUDE}
    return exif


def image_bytes(fmt, size=(64, 48), with_metadata=True):
    image = Image.new("RGB", size, (200, 30, 30))
    buffer = io.BytesIO()
    options = {}
    if with_metadata:
        options["exif"] = exif_with_gps()
        if fmt == "TIFF":
            # Pillow writes a GPS IFD into TIFF only from an Exif read from a file.
            jpeg = io.BytesIO()
            Image.new("RGB", (1, 1)).save(jpeg, format="JPEG", exif=exif_with_gps())
            options["exif"] = Image.open(io.BytesIO(jpeg.getvalue())).getexif()
        if fmt == "PNG":
            info = PngImagePlugin.PngInfo()
            info.add_itxt("XML:com.adobe.xmp", XMP.decode())
            info.add_text("Comment", "taken at the witness's house")
            options["pnginfo"] = info
        elif fmt in ("WEBP", "JPEG"):
            options["xmp"] = XMP
    if fmt == "JPEG":
        options["comment"] = b"taken at the witness's house" if with_metadata else b""
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
