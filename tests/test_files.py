"""Stored files: what is accepted (by the bytes), once per content, downloads and isolation."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from repairqc.audit.models import AuditLog
from repairqc.db import db
from repairqc.files.models import StoredFile
from repairqc.files.services import UploadRefused, clean_filename, store_bytes, store_upload
from tests.conftest import in_tenant, sign_in

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.4\n%test document\n"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
HTML = b"<html><script>alert(document.cookie)</script></html>"


def url(tenant) -> str:
    return f"http://{tenant.host}"


def stored(app, tenant, data: bytes, name: str) -> int:
    with in_tenant(app, tenant):
        row = store_bytes(data, name)
        db.session.commit()
        return row.id


def count(app, tenant, digest_of: bytes | None = None) -> int:
    import hashlib

    with in_tenant(app, tenant):
        query = sa.select(sa.func.count()).select_from(StoredFile)
        if digest_of is not None:
            query = query.where(StoredFile.sha256 == hashlib.sha256(digest_of).hexdigest())
        return db.session.execute(query).scalar_one()


def test_the_type_comes_from_the_bytes_not_the_name(app, alpha):
    with in_tenant(app, alpha):
        png = store_bytes(PNG + b"1", "photo.exe")
        assert (png.content_type, png.filename) == ("image/png", "photo.png")
        assert store_bytes(JPEG, "scan.png").content_type == "image/jpeg"
        assert store_bytes(PDF, "manual").filename == "manual.pdf"
        with pytest.raises(
            UploadRefused, match=r"“photo\.png” is not a PNG, JPEG, WebP or GIF image or a PDF"
        ):
            store_bytes(HTML, "photo.png")  # an HTML page dressed up as an image
        with pytest.raises(UploadRefused, match="is empty"):
            store_bytes(b"", "empty.png")
    assert count(app, alpha, HTML) == 0


def test_uploads_larger_than_the_setting_are_refused(app, alpha, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", len(PNG))
    with in_tenant(app, alpha):
        assert store_upload(FileStorage(io.BytesIO(PNG), "ok.png")).size == len(PNG)
        with pytest.raises(UploadRefused, match="larger than the limit"):
            store_upload(FileStorage(io.BytesIO(PNG + b"x"), "big.png"))
    assert count(app, alpha, PNG + b"x") == 0


def test_the_same_bytes_are_stored_once(app, alpha):
    first = stored(app, alpha, PNG + b"dup", "first.png")
    again = stored(app, alpha, PNG + b"dup", "second name.png")
    assert first == again
    assert count(app, alpha, PNG + b"dup") == 1


def test_names_are_cleaned_for_headers_and_keep_chinese():
    assert clean_filename('..\\..\\evil"; name=x.html', "png") == "evil name=x.png"
    assert clean_filename("维修说明.pdf", "pdf") == "维修说明.pdf"
    assert clean_filename("", "gif") == "file.gif"
    assert clean_filename("a\r\nb.png", "png") == "ab.png"  # no header injection


def test_images_open_inline_and_pdfs_download_with_safe_headers(app, client, alpha):
    png_id = stored(app, alpha, PNG + b"inline", "Board photo.png")
    pdf_id = stored(app, alpha, PDF, "维修说明.pdf")
    sign_in(client, alpha, "tech")

    image = client.get(f"/files/{png_id}", base_url=url(alpha))
    assert image.status_code == 200 and image.data == PNG + b"inline"
    assert image.headers["Content-Type"] == "image/png"
    assert image.headers["Content-Disposition"] == 'inline; filename="Board photo.png"'
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    assert "private" in image.headers["Cache-Control"] and "public" not in image.headers["Cache-Control"]

    pdf = client.get(f"/files/{pdf_id}", base_url=url(alpha))
    assert pdf.headers["Content-Type"] == "application/pdf"
    disposition = pdf.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%E7%BB%B4%E4%BF%AE%E8%AF%B4%E6%98%8E.pdf" in disposition
    assert pdf.headers["X-Content-Type-Options"] == "nosniff"


def test_signed_out_visitors_are_sent_to_sign_in(app, client, alpha):
    file_id = alpha.ids["stored_files"][0]
    response = client.get(f"/files/{file_id}", base_url=url(alpha))
    assert response.status_code == 302 and "/login" in response.location


def test_a_tenant_cannot_download_another_tenants_file(app, client, alpha, beta):
    """Beta has file ids alpha lacks; the id alone never reaches beta's schema."""
    sign_in(client, alpha, "owner")
    for beta_only in sorted(set(beta.ids["stored_files"]) - set(alpha.ids["stored_files"])):
        response = client.get(f"/files/{beta_only}", base_url=url(alpha))
        assert response.status_code == 404
        assert beta.sentinel.encode() not in response.data
    shared_id = alpha.ids["stored_files"][0]  # exists in both tenants: each host serves its own
    own = client.get(f"/files/{shared_id}", base_url=url(alpha))
    assert alpha.sentinel.encode() in own.data and beta.sentinel.encode() not in own.data
    for nonsense in ("0", "99999999999", "abc"):
        assert client.get(f"/files/{nonsense}", base_url=url(alpha)).status_code == 404


def test_the_admin_never_shows_or_audits_the_bytes(app, client, alpha):
    file_id = stored(app, alpha, PNG + b"SECRET-BYTES-4711", "audited.png")
    sign_in(client, alpha, "owner")
    listing = client.get("/admin/stored_files/", base_url=url(alpha))
    assert listing.status_code == 200 and "audited.png" in listing.text
    details = client.get(f"/admin/stored_files/details/?id={file_id}", base_url=url(alpha))
    export = client.get("/admin/stored_files/export/csv/", base_url=url(alpha))
    for page in (listing.text, details.text, export.get_data(as_text=True)):
        assert "SECRET-BYTES-4711" not in page and "Contents" not in page
    with in_tenant(app, alpha):
        entry = db.session.execute(
            sa.select(AuditLog).where(AuditLog.table_name == "stored_files", AuditLog.row_id == str(file_id))
        ).scalar_one()
        assert entry.after["data"] == "***" and entry.after["filename"] == "audited.png"


def test_files_are_not_created_or_edited_through_the_admin(app, client, alpha):
    """The generated form cannot take bytes; files come only from the SOP editor's uploads."""
    sign_in(client, alpha, "owner")
    file_id = alpha.ids["stored_files"][0]
    assert client.get("/admin/stored_files/new/", base_url=url(alpha)).status_code in (302, 403)
    client.post("/admin/stored_files/new/", base_url=url(alpha), data={"filename": "typed.png", "data": "x"})
    client.post(
        f"/admin/stored_files/edit/?id={file_id}", base_url=url(alpha), data={"filename": "evil.html"}
    )
    assert count(app, alpha) == len(alpha.ids["stored_files"])
    with in_tenant(app, alpha):
        assert db.session.get(StoredFile, file_id).filename == f"File 0 {alpha.sentinel}.png"


def test_only_the_owner_deletes_files_and_nobody_edits_them(app, client, alpha):
    sign_in(client, alpha, "qa")
    file_id = alpha.ids["stored_files"][0]
    client.post("/admin/stored_files/delete/", base_url=url(alpha), data={"id": file_id})
    assert client.get(f"/admin/stored_files/edit/?id={file_id}", base_url=url(alpha)).status_code in (
        302,
        403,
    )
    assert count(app, alpha) == len(alpha.ids["stored_files"])
