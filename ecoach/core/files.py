"""Files people send: their names, what they really are, and safe previews. Pure.

A file is accepted only when its name is harmless, its extension is allowed, and its
content is what the extension says (magic bytes; an office file's ZIP structure, with
its declared sizes checked against what actually unpacks). Anything else is refused with
a ``FileRefused`` whose code and message say why; nothing here touches storage.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps

# What each accepted extension must be inside: the content type we serve it as, and the
# kind of check its bytes get.
KNOWN: dict[str, tuple[str, str]] = {
    "pdf": ("application/pdf", "pdf"),
    "png": ("image/png", "image"),
    "jpg": ("image/jpeg", "image"),
    "jpeg": ("image/jpeg", "image"),
    "gif": ("image/gif", "image"),
    "webp": ("image/webp", "image"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "ooxml:word/"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "ooxml:xl/"),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "ooxml:ppt/"),
    "odt": ("application/vnd.oasis.opendocument.text", "odf"),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", "odf"),
    "odp": ("application/vnd.oasis.opendocument.presentation", "odf"),
    "txt": ("text/plain; charset=utf-8", "text"),
    "csv": ("text/csv; charset=utf-8", "text"),
    "md": ("text/markdown; charset=utf-8", "text"),
}
# Pillow's names of the image formats, per extension.
IMAGE_FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "gif": "GIF", "webp": "WEBP"}
# What content is, by its first bytes: for the message when it does not match its name.
SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"%PDF-", 0, "PDF"),
    (b"\x89PNG\r\n\x1a\n", 0, "PNG"),
    (b"\xff\xd8\xff", 0, "JPEG"),
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"WEBP", 8, "WebP"),
    (b"PK\x03\x04", 0, "ZIP"),
    (b"PK\x05\x06", 0, "ZIP"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 0, "OLE"),
    (b"MZ", 0, "EXE"),
    (b"\x7fELF", 0, "ELF"),
    (b"\x1f\x8b", 0, "GZIP"),
    (b"7z\xbc\xaf\x27\x1c", 0, "7Z"),
    (b"Rar!", 0, "RAR"),
    (b"<svg", 0, "SVG"),
    (b"<?xml", 0, "XML"),
)
NAME_MAX = 200
# Windows refuses these as names whatever the extension (CON.txt is the console).
RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$", re.IGNORECASE)
# Bidirectional controls (e.g. U+202E turns "gpj.exe" around) and other format characters.
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


class FileRefused(ValueError):
    """A file cannot be accepted; ``code`` is stable, the message (English, with
    ``params``) is translated where it is shown."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.code, self.message, self.params = code, message, params


@dataclass(frozen=True)
class FileRules:
    """The limits from the ``[files]`` settings."""

    max_bytes: int = 10 * 1024 * 1024
    allowed: tuple[str, ...] = ("pdf", "png", "jpg", "jpeg", "gif", "webp", "docx", "xlsx", "pptx",
                                "odt", "ods", "odp", "txt", "csv")
    max_unpacked_bytes: int = 100 * 1024 * 1024
    max_ratio: int = 250
    max_entries: int = 5000
    max_image_pixels: int = 40_000_000
    preview_size: int = 480


@dataclass(frozen=True)
class CheckedFile:
    name: str
    extension: str
    content_type: str
    size: int
    is_image: bool


@dataclass(frozen=True)
class Preview:
    data: bytes
    content_type: str
    width: int
    height: int


def N_(message: str) -> str:
    return message


def clean_name(raw: str) -> str:
    """A file name safe to store and offer for download, or ``FileRefused``. Names that
    try to escape a folder, hide their real extension or name a device are refused, not
    repaired: the sender should know."""
    if not isinstance(raw, str) or not raw.strip():
        raise FileRefused("file_name_missing", N_("The file has no name."))
    if "\x00" in raw:
        raise FileRefused("file_name_invalid", N_("The file name contains a NUL character."))
    name = unicodedata.normalize("NFC", raw).strip()
    if "/" in name or "\\" in name or name in (".", "..") or name.startswith(".."):
        raise FileRefused("file_name_path", N_("The file name may not contain a path (/, \\ or ..)."))
    if any(unicodedata.category(c) in _INVISIBLE for c in name):
        raise FileRefused("file_name_invalid", N_("The file name contains invisible or direction-changing "
                                                  "characters."))
    name = " ".join(name.split()).rstrip(". ")
    if RESERVED.match(name):
        raise FileRefused("file_name_reserved", N_("\"%(name)s\" is a reserved device name on Windows; "
                                                   "rename the file."), name=name[:40])
    if not name or name.startswith("."):
        raise FileRefused("file_name_invalid", N_("The file name must not start with a dot."))
    stem, dot, extension = name.rpartition(".")
    if len(name) > NAME_MAX:
        name = (stem[: NAME_MAX - len(extension) - 1] + dot + extension) if dot else name[:NAME_MAX]
    return name


def extension_of(name: str) -> str:
    stem, dot, extension = name.rpartition(".")
    return extension.lower() if dot and stem else ""


def check_type(name: str, rules: FileRules) -> tuple[str, str, str]:
    """(extension, content type, check) for a cleaned name, or refused."""
    extension = extension_of(name)
    if extension not in rules.allowed or extension not in KNOWN:
        shown = ", ".join(e for e in rules.allowed if e in KNOWN)
        raise FileRefused("file_type_refused", N_("Files of type \"%(type)s\" are not accepted. Accepted: "
                                                  "%(allowed)s."), type=extension or "?", allowed=shown)
    content_type, check = KNOWN[extension]
    return extension, content_type, check


def check_size(size: int, rules: FileRules) -> None:
    if size > rules.max_bytes:
        raise FileRefused("file_too_large", N_("The file is %(size)s; the limit is %(limit)s."),
                          size=human_size(size), limit=human_size(rules.max_bytes))
    if size == 0:
        raise FileRefused("file_empty", N_("The file is empty."))


def human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


def sniff(data: bytes) -> str | None:
    """What the content is by its first bytes (for messages), or None."""
    for magic, offset, label in SIGNATURES:
        if data[offset:offset + len(magic)] == magic:
            return label
    return None


def check_file(raw_name: str, data: bytes, rules: FileRules) -> CheckedFile:
    """Everything about one file before it is stored: name, type, size, content."""
    name = clean_name(raw_name)
    extension, content_type, check = check_type(name, rules)
    check_size(len(data), rules)
    if check == "pdf":
        _expect(data.startswith(b"%PDF-"), extension, data)
    elif check == "image":
        _check_image(data, extension, rules)
    elif check.startswith("ooxml:"):
        _expect(data.startswith(b"PK\x03\x04"), extension, data)
        _check_zip(data, extension, rules, must_have=("[Content_Types].xml",), prefix=check[6:])
    elif check == "odf":
        _expect(data.startswith(b"PK\x03\x04"), extension, data)
        _check_zip(data, extension, rules, must_have=("mimetype",), mimetype=content_type)
    elif check == "text":
        _check_text(data, extension)
    return CheckedFile(name, extension, content_type, len(data), check == "image")


def _expect(ok: bool, extension: str, data: bytes) -> None:
    if not ok:
        _mismatch(extension, data)


def _mismatch(extension: str, data: bytes) -> None:
    found = sniff(data)
    if found:
        raise FileRefused("file_type_mismatch", N_("This file is named .%(type)s, but its content is %(found)s. "
                                                   "It was not accepted."), type=extension, found=found)
    raise FileRefused("file_type_mismatch", N_("This file is named .%(type)s, but its content is not a "
                                               ".%(type)s file. It was not accepted."), type=extension)


def _check_text(data: bytes, extension: str) -> None:
    if b"\x00" in data:
        _mismatch(extension, data)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise FileRefused("file_text_encoding", N_("A .%(type)s file must be UTF-8 text."), type=extension) from None


def _check_zip(data: bytes, extension: str, rules: FileRules, *, must_have: tuple[str, ...],
               prefix: str | None = None, mimetype: str | None = None) -> None:
    """An office file is a ZIP: its directory is read, its declared sizes and ratios
    bounded, and then every entry unpacked (streamed, counted) so that a header that lies
    about its size cannot slip a bomb past the declared figures."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise FileRefused("file_damaged", N_("The .%(type)s file is damaged and cannot be read."),
                          type=extension) from None
    with archive:
        if len(entries) > rules.max_entries:
            raise _bomb(extension)
        declared = sum(e.file_size for e in entries)
        if declared > rules.max_unpacked_bytes or any(
                e.compress_size and e.file_size / e.compress_size > rules.max_ratio for e in entries):
            raise _bomb(extension)
        names = {e.filename for e in entries}
        if not all(n in names for n in must_have) or (prefix and not any(n.startswith(prefix) for n in names)):
            _mismatch_zip(extension)
        if mimetype is not None and archive.read("mimetype").decode("ascii", "replace").strip() != mimetype:
            _mismatch_zip(extension)
        _unpack_counted(archive, entries, extension, rules)


def _unpack_counted(archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo], extension: str,
                    rules: FileRules) -> None:
    total = 0
    try:
        for entry in entries:
            with archive.open(entry) as stream:
                produced = 0
                while chunk := stream.read(1 << 16):
                    produced += len(chunk)
                    total += len(chunk)
                    if produced > entry.file_size or total > rules.max_unpacked_bytes:
                        raise _bomb(extension)
            if produced != entry.file_size:
                raise _bomb(extension)
    except FileRefused:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError):
        # zipfile checks every entry's CRC: a size that lies shows up here too.
        raise FileRefused("file_damaged", N_("The .%(type)s file is damaged and cannot be read."),
                          type=extension) from None


def _bomb(extension: str) -> FileRefused:
    return FileRefused("file_unpacks_too_large", N_("This .%(type)s file unpacks to far more than it "
                                                    "seems (a \"zip bomb\"). It was not accepted."),
                       type=extension)


def _mismatch_zip(extension: str) -> None:
    raise FileRefused("file_type_mismatch", N_("This file is named .%(type)s, but its content is a ZIP archive "
                                               "of another kind. It was not accepted."), type=extension)


def _open_image(data: bytes, rules: FileRules) -> Image.Image:
    with Image.open(io.BytesIO(data)) as probe:  # reads the header only
        width, height = probe.size
        if width * height > rules.max_image_pixels:
            raise FileRefused("image_too_large", N_("This image is %(width)s × %(height)s pixels; the limit is "
                                                    "%(limit)s million pixels."), width=width, height=height,
                              limit=rules.max_image_pixels // 1_000_000)
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _check_image(data: bytes, extension: str, rules: FileRules) -> None:
    try:
        with Image.open(io.BytesIO(data)) as probe:
            found = probe.format
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        _mismatch(extension, data)
        return
    if found != IMAGE_FORMATS[extension]:
        _mismatch(extension, data)
    try:
        _open_image(data, rules).close()  # decodes it: a truncated or hostile image fails here
    except FileRefused:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise FileRefused("file_damaged", N_("The .%(type)s file is damaged and cannot be read."),
                          type=extension) from None


def make_preview(data: bytes, rules: FileRules) -> Preview:
    """A small copy, decoded and encoded anew (PNG or JPEG): what a browser shows inline
    is pixels we wrote, without the original's metadata (location, camera)."""
    image = _open_image(data, rules)
    with image:
        if getattr(image, "n_frames", 1) > 1:
            image.seek(0)
        shown = ImageOps.exif_transpose(image)
        shown.thumbnail((rules.preview_size, rules.preview_size))
        alpha = shown.mode in ("RGBA", "LA", "P")
        shown = shown.convert("RGBA" if alpha else "RGB")
        out = io.BytesIO()
        if alpha:
            shown.save(out, "PNG", optimize=True)
        else:
            shown.save(out, "JPEG", quality=82)
        return Preview(out.getvalue(), "image/png" if alpha else "image/jpeg", shown.width, shown.height)
