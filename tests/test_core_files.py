"""The pure checks of files: names, types by content, archives, images and previews."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from ecoach.core.files import FileRefused, FileRules, check_file, clean_name, make_preview
from tests.file_samples import PDF, docx, jpeg, lying_zip, png, zip_bomb

RULES = FileRules()


@pytest.mark.parametrize("name", ["../../etc/passwd.pdf", "..\\boot.ini.txt", "a/b.pdf", "..",
                                  "x\x00.pdf", "invoice\u202efdp.exe", "CON.txt", "lpt1.pdf", "nul",
                                  "aux.tar.gz", ".htaccess", "zero\u200bwidth.pdf"])
def test_names_with_tricks_are_refused(name: str) -> None:
    with pytest.raises(FileRefused) as refused:
        clean_name(name)
    assert refused.value.code.startswith("file_name_")


def test_harmless_names_are_tidied_not_refused() -> None:
    assert clean_name("  Mijn   oefening. ") == "Mijn oefening"
    assert clean_name("Café résumé.pdf") == "Café résumé.pdf"
    long = "a" * 300 + ".pdf"
    assert clean_name(long).endswith(".pdf") and len(clean_name(long)) == 200


def test_types_are_checked_by_content() -> None:
    assert check_file("plan.pdf", PDF, RULES).content_type == "application/pdf"
    assert check_file("foto.png", png(), RULES).is_image
    assert check_file("werkblad.docx", docx(), RULES).extension == "docx"
    with pytest.raises(FileRefused, match="content is PNG"):
        check_file("plan.pdf", png(), RULES)
    with pytest.raises(FileRefused, match="content is JPEG"):
        check_file("foto.png", jpeg(), RULES)
    with pytest.raises(FileRefused) as refused:
        check_file("setup.exe", b"MZ" + bytes(100), RULES)
    assert refused.value.code == "file_type_refused"
    with pytest.raises(FileRefused, match="content is SVG"):
        check_file("image.png", b"<svg onload=alert(1)></svg>", RULES)
    with pytest.raises(FileRefused):
        check_file("notes.txt", b"\xff\xfe\x00h\x00i", RULES)


def test_zip_bombs_and_lying_archives_are_refused() -> None:
    bomb = zip_bomb()
    assert len(bomb) < 1024 * 1024
    with pytest.raises(FileRefused, match="content is ZIP") as refused:
        check_file("report.pdf", bomb, RULES)
    assert refused.value.code == "file_type_mismatch"
    with pytest.raises(FileRefused) as refused:
        check_file("report.docx", bomb, RULES)
    assert refused.value.code == "file_unpacks_too_large"
    with pytest.raises(FileRefused) as refused:
        check_file("report.docx", lying_zip(), RULES)
    assert refused.value.code in ("file_unpacks_too_large", "file_damaged")


def test_size_limits() -> None:
    with pytest.raises(FileRefused, match="limit is 1.0 MB"):
        check_file("big.pdf", PDF + bytes(2 * 1024 * 1024), FileRules(max_bytes=1024 * 1024))
    with pytest.raises(FileRefused, match="million pixels"):
        check_file("huge.png", png(3000, 3000), FileRules(max_image_pixels=1_000_000))


def test_previews_are_small_reencoded_copies() -> None:
    preview = make_preview(png(1600, 1200), RULES)
    assert (preview.width, preview.height) == (480, 360)
    assert preview.content_type == "image/jpeg"
    assert Image.open(io.BytesIO(preview.data)).format == "JPEG"
