"""SOPs (HB §5.1.3(4)): sanitised Markdown, the draft-only editor, attachments, import/export."""

from __future__ import annotations

import copy
import hashlib
import io
import re

import pytest
import sqlalchemy as sa

from repairqc.db import db
from repairqc.errors import Conflict
from repairqc.files.models import StoredFile
from repairqc.files.services import store_bytes
from repairqc.standards import services, sop_services
from repairqc.standards.defaults import handbook_document
from repairqc.standards.markdown import render_markdown
from repairqc.standards.models import StandardVersion
from repairqc.standards.schema import StandardDocument
from tests.conftest import in_tenant, sign_in

PNG = b"\x89PNG\r\n\x1a\n" + b"sop-attachment"
HTML_AS_PNG = b"<!doctype html><script>alert(1)</script>"
NEW = "/admin/standards/sops/draft/new/"


def url(tenant) -> str:
    return f"http://{tenant.host}"


def sop_form(**changes) -> dict:
    values = {"code": "screen-swap", "category": "smartphone", "step": "repair",
              "title_en": "Replacing a screen", "title_zh": "更换屏幕",
              "body_en": "1. **Power off** the phone.\n2. Heat the edges.", "body_zh": ""}  # fmt: skip
    values.update(changes)
    return values


def start_draft(app, tenant) -> int:
    with in_tenant(app, tenant):
        draft = services.start_draft()
        db.session.commit()
        return draft.number


def sops_of(app, tenant, number: int) -> dict[str, dict]:
    with in_tenant(app, tenant):
        version = db.session.execute(
            sa.select(StandardVersion).where(StandardVersion.number == number)
        ).scalar_one()
        return {sop["code"]: sop for sop in version.document.get("sops", [])}


def field_errors(html: str, name: str) -> list[str]:
    """The messages shown right after the form field `name` (up to the next field)."""
    start = html.index(f'name="{name}"')
    end = min(i for i in (html.find('<div class="form-group">', start), html.find("</form>", start)) if i > 0)
    return re.findall(r'<div class="invalid-feedback[^"]*">([^<]*)</div>', html[start:end])


# --- rendering ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markdown", "forbidden"),
    [
        ("<script>alert(1)</script>", "<script"),
        ("[click](javascript:alert(1))", 'href="javascript'),
        ("[click](JAVASCRIPT:alert(1))", "href="),
        ('<a href="javascript:alert(1)">raw</a>', "<a "),
        ("<img src=x onerror=alert(1)>", "<img"),
        ("![x](x.png)\n\n<img src=x onerror=alert(1)>", "<img src=x"),  # as text, not a tag
        ("<iframe src=https://evil.example></iframe>", "<iframe"),
        ("[data](data:text/html;base64,PHNjcmlwdD4=)", 'href="data'),
        ('<div style="position:fixed">overlay</div>', "<div"),
    ],
)
def test_markdown_is_rendered_without_anything_that_runs(markdown, forbidden):
    html = str(render_markdown(markdown))
    assert forbidden not in html.lower()
    assert not re.search(r"<[^>]*\son\w+\s*=", html, re.IGNORECASE)  # no tag with an event handler


def test_markdown_keeps_what_instructions_need():
    html = str(
        render_markdown(
            "## Steps\n\n1. **Heat** the [edges](https://example.com/a)\n\n| a | b |\n|---|---|\n| 1 | 2 |"
        )
    )
    assert "<h2>Steps</h2>" in html and "<strong>Heat</strong>" in html and "<table>" in html
    assert '<a href="https://example.com/a" rel="noopener noreferrer">edges</a>' in html
    assert str(render_markdown("")) == ""


# --- the schema and the defaults ------------------------------------------------------------------------


def test_a_new_tenant_gets_the_sample_sops_in_both_languages(app, alpha):
    with in_tenant(app, alpha):
        document = StandardDocument.model_validate(services.version_on(services.utcnow().date()).document)
    assert {sop.code: sop.step for sop in document.sops} == {
        "intake": "intake", "post-repair-qc": "qc", "delivery": "delivery",
    }  # fmt: skip
    for sop in document.sops:
        assert sop.title.en and re.search(r"[\u4e00-\u9fff]", sop.title.zh)
        assert "HB §" in sop.body.en and "手册 §" in sop.body.zh


def test_documents_stored_before_sops_existed_still_validate():
    document = handbook_document()
    del document["sops"]
    assert StandardDocument.model_validate(document).sops == []


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda sop: sop.update(category="spaceship"), "Unknown device category: spaceship"),
        (lambda sop: sop.update(body={"en": " ", "zh": ""}), "sops.0.body: Write the instructions"),
        (lambda sop: sop.update(step="polishing"), "sops.0.step: must be one of"),
        (lambda sop: sop["title"].update(zh=""), "sops.0.title.zh: must not be empty"),
        (lambda sop: sop.update(attachments=[{"sha256": "0" * 64, "filename": "x.html",
                                              "content_type": "text/html", "size": 3}]),
         "sops.0.attachments.0.content_type"),
    ],
)  # fmt: skip
def test_invalid_sops_are_refused_naming_the_field(mutate, message, app):
    document = handbook_document()
    mutate(document["sops"][0])
    with app.test_request_context(), pytest.raises(services.InvalidStandard) as refused:
        services.validated(document)
    assert any(message in problem for problem in refused.value.problems), refused.value.problems


def test_sop_codes_are_unique_in_a_version(app):
    document = handbook_document()
    document["sops"].append(copy.deepcopy(document["sops"][0]))
    with app.test_request_context(), pytest.raises(services.InvalidStandard, match="repeated: intake"):
        services.validated(document)


# --- the screens ----------------------------------------------------------------------------------


def test_everyone_reads_the_sops_in_force_and_filters_them(app, client, alpha):
    sign_in(client, alpha, "tech")
    listing = client.get("/admin/standards/sops/", base_url=url(alpha))
    assert listing.status_code == 200
    assert "Receiving a device" in listing.text and "Quality check after repair" in listing.text
    assert 'data-testid="add-sop"' not in listing.text
    filtered = client.get("/admin/standards/sops/?category=laptop&step=qc", base_url=url(alpha)).text
    assert "Quality check after repair" in filtered  # "all categories" SOPs apply to laptops too
    assert "Receiving a device" not in filtered
    page = client.get("/admin/standards/sops/post-repair-qc/", base_url=url(alpha))
    assert page.status_code == 200
    assert "<strong>a second person</strong>" in page.text and "<table>" in page.text
    assert client.get("/admin/standards/sops/no-such-sop/", base_url=url(alpha)).status_code == 404
    assert client.get("/admin/standards/sops/?version=99999999999", base_url=url(alpha)).status_code == 404


def test_a_technician_cannot_edit_sops(app, client, alpha):
    number = start_draft(app, alpha)
    before = sops_of(app, alpha, number)
    sign_in(client, alpha, "tech")
    assert client.get("/admin/standards/sops/draft/new/", base_url=url(alpha)).status_code == 403
    assert (
        client.post("/admin/standards/sops/draft/new/", base_url=url(alpha), data=sop_form()).status_code
        == 403
    )
    assert client.post("/admin/standards/sops/draft/intake/delete/", base_url=url(alpha)).status_code == 403
    page = client.get(f"/admin/standards/sops/intake/?version={number}", base_url=url(alpha))
    assert page.status_code == 200 and 'data-testid="edit-sop"' not in page.text
    assert sops_of(app, alpha, number) == before


def test_sops_change_only_in_a_draft(app, client, alpha):
    """With no draft the editor sends the user to start one; published versions never change."""
    before = sops_of(app, alpha, 1)
    sign_in(client, alpha, "qa")
    response = client.post("/admin/standards/sops/draft/new/", base_url=url(alpha), data=sop_form())
    assert response.status_code == 302 and response.location.endswith("/admin/standards/")
    client.post("/admin/standards/sops/draft/intake/delete/", base_url=url(alpha))
    assert sops_of(app, alpha, 1) == before
    with in_tenant(app, alpha):
        published = services.version_on(services.utcnow().date())
        with pytest.raises(Conflict, match="is published and cannot change"):
            sop_services.save_sop(published, sop_services.SopInput(**sop_form()))
        with pytest.raises(Conflict):
            sop_services.delete_sop(published, "intake")


def test_the_qa_manager_adds_edits_and_deletes_an_sop(app, client, alpha):
    number = start_draft(app, alpha)
    sign_in(client, alpha, "qa")
    form = client.get("/admin/standards/sops/draft/new/", base_url=url(alpha))
    assert form.status_code == 200 and 'name="body_zh"' in form.text and "Smartphone" in form.text

    body = "1. **Power off**\n\n<script>alert(1)</script>"
    saved = client.post("/admin/standards/sops/draft/new/", base_url=url(alpha), data=sop_form(body_en=body))
    assert saved.status_code == 302
    assert sops_of(app, alpha, number)["screen-swap"]["title"] == {
        "en": "Replacing a screen",
        "zh": "更换屏幕",
    }
    page = client.get(saved.location, base_url=url(alpha)).text
    assert "<strong>Power off</strong>" in page and "<script>alert" not in page

    client.post("/language", base_url=url(alpha), data={"locale": "zh_Hans_CN"})
    chinese = client.get(saved.location, base_url=url(alpha)).text
    assert "更换屏幕" in chinese and "<strong>Power off</strong>" in chinese  # no Chinese text: English shown
    client.post("/language", base_url=url(alpha), data={"locale": "en"})

    edited = client.post("/admin/standards/sops/draft/screen-swap/edit/", base_url=url(alpha),
                         data=sop_form(code="screen-replacement", step="qc", body_zh="先关机。"))  # fmt: skip
    assert edited.status_code == 302
    sops = sops_of(app, alpha, number)
    assert "screen-swap" not in sops and sops["screen-replacement"]["step"] == "qc"
    assert list(sops)[-1] == "screen-replacement"  # renamed in place, not duplicated

    deleted = client.post("/admin/standards/sops/draft/screen-replacement/delete/", base_url=url(alpha))
    assert deleted.status_code == 302
    assert "screen-replacement" not in sops_of(app, alpha, number)
    assert set(sops_of(app, alpha, 1)) == {"intake", "post-repair-qc", "delivery"}  # v1 untouched


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"title_en": "  "}, "title_en", "must not be empty"),
        ({"category": "spaceship"}, "category", "Unknown device category: spaceship."),
        ({"body_en": "", "body_zh": "  "}, "body_en", "Write the instructions in at least one language."),
        ({"body_zh": "字" * 20_001}, "body_zh", "must be at most 20000 characters long"),
        ({"code": "Bad Code!"}, "code", "must use lowercase letters, digits, - and _ only"),
        ({"code": "intake"}, "code", "Another SOP of this version already uses this code."),
        ({"step": "polishing"}, "step", "must be one of"),
    ],
)
def test_editor_errors_are_shown_at_the_field_and_nothing_is_saved(
    app, client, alpha, changes, field, message
):
    number = start_draft(app, alpha)
    before = sops_of(app, alpha, number)
    sign_in(client, alpha, "qa")
    response = client.post("/admin/standards/sops/draft/new/", base_url=url(alpha), data=sop_form(**changes))
    assert response.status_code == 400
    assert any(message in error for error in field_errors(response.text, field)), field_errors(
        response.text, field
    )
    assert sops_of(app, alpha, number) == before


def test_editor_errors_are_translated(app, client, alpha):
    start_draft(app, alpha)
    sign_in(client, alpha, "qa")
    client.post("/language", base_url=url(alpha), data={"locale": "zh_Hans_CN"})
    response = client.post("/admin/standards/sops/draft/new/", base_url=url(alpha),
                           data=sop_form(title_en=""))  # fmt: skip
    assert response.status_code == 400
    assert re.search(r"[\u4e00-\u9fff]", " ".join(field_errors(response.text, "title_en")))


def test_a_stale_editor_does_not_overwrite_a_newer_save(app, client, alpha):
    number = start_draft(app, alpha)
    sign_in(client, alpha, "qa")
    form = client.get("/admin/standards/sops/draft/intake/edit/", base_url=url(alpha)).text
    digest = re.search(r'name="digest" type="hidden" value="([^"]+)"', form).group(1)
    same = {"code": "intake", "step": "intake", "digest": digest}
    edit = "/admin/standards/sops/draft/intake/edit/"
    client.post(edit, base_url=url(alpha), data=sop_form(**same, title_en="First save"))
    stale = client.post(edit, base_url=url(alpha), data=sop_form(**same, title_en="Second save"))
    assert stale.status_code == 409
    assert sops_of(app, alpha, number)["intake"]["title"]["en"] == "First save"


# --- attachments ----------------------------------------------------------------------------------


def upload(data: bytes, name: str) -> tuple[io.BytesIO, str]:
    return io.BytesIO(data), name


def test_attachments_are_uploaded_listed_downloaded_and_removed(app, client, alpha):
    number = start_draft(app, alpha)
    sign_in(client, alpha, "qa")
    files = [upload(PNG, "board.png"), upload(PNG, "again.png")]
    saved = client.post(
        NEW,
        base_url=url(alpha),
        content_type="multipart/form-data",
        data={**sop_form(), "attachments": files},
    )
    assert saved.status_code == 302
    (attachment,) = sops_of(app, alpha, number)["screen-swap"]["attachments"]  # same bytes: once
    assert attachment == {"sha256": hashlib.sha256(PNG).hexdigest(), "filename": "board.png",
                          "content_type": "image/png", "size": len(PNG)}  # fmt: skip

    sign_in(client, alpha, "tech")
    page = client.get(saved.location, base_url=url(alpha)).text
    link = re.search(r'href="(/files/\d+)">board.png</a>', page).group(1)
    download = client.get(link, base_url=url(alpha))
    assert download.status_code == 200 and download.data == PNG

    sign_in(client, alpha, "qa")
    removed = client.post("/admin/standards/sops/draft/screen-swap/edit/", base_url=url(alpha),
                          data={**sop_form(), "remove": [attachment["sha256"]]})  # fmt: skip
    assert removed.status_code == 302
    assert sops_of(app, alpha, number)["screen-swap"]["attachments"] == []
    assert client.get(link, base_url=url(alpha)).status_code == 200  # the file stays for other versions


def test_a_refused_attachment_saves_nothing(app, client, alpha):
    number = start_draft(app, alpha)
    sign_in(client, alpha, "qa")
    files = [upload(PNG + b"kept?", "fine.png"), upload(HTML_AS_PNG, "photo.png")]
    response = client.post(
        NEW,
        base_url=url(alpha),
        content_type="multipart/form-data",
        data={**sop_form(), "attachments": files},
    )
    assert response.status_code == 400
    assert any("“photo.png” is not a PNG" in e for e in field_errors(response.text, "attachments"))
    assert "screen-swap" not in sops_of(app, alpha, number)
    with in_tenant(app, alpha):  # the acceptable file went back out with the rest
        digest = hashlib.sha256(PNG + b"kept?").hexdigest()
        assert db.session.execute(sa.select(StoredFile).where(StoredFile.sha256 == digest)).first() is None


def test_a_tenant_never_sees_another_tenants_sops(app, client, alpha, beta):
    number = start_draft(app, alpha)
    sign_in(client, alpha, "qa")
    client.post("/admin/standards/sops/draft/new/", base_url=url(alpha),
                data=sop_form(code="alpha-only", title_en=f"Only {alpha.sentinel}"))  # fmt: skip
    assert "alpha-only" in sops_of(app, alpha, number)
    sign_in(client, beta, "qa")
    assert (
        client.get(f"/admin/standards/sops/alpha-only/?version={number}", base_url=url(beta)).status_code
        == 404
    )
    assert client.get("/admin/standards/sops/alpha-only/", base_url=url(beta)).status_code == 404
    assert alpha.sentinel not in client.get("/admin/standards/sops/", base_url=url(beta)).text


# --- export and import ----------------------------------------------------------------------------


def draft_with_attachment(app, tenant) -> tuple[str, str]:
    """A draft whose SOP `screen-swap` has one attachment; returns its YAML export and digest."""
    with in_tenant(app, tenant):
        draft = services.start_draft()
        stored = store_bytes(PNG + b"exported", "exported.png")
        document = copy.deepcopy(draft.document)
        document["sops"].append({
            "code": "screen-swap", "category": "all", "step": "repair",
            "title": {"en": "Screen", "zh": "屏幕"}, "body": {"en": "Steps", "zh": ""},
            "attachments": [{"sha256": stored.sha256, "filename": "exported.png",
                             "content_type": "image/png", "size": stored.size}],
        })  # fmt: skip
        services.save_draft(draft, document)
        db.session.commit()
        return services.export_version(draft), stored.sha256


def test_import_keeps_attachments_this_tenant_holds(app, alpha):
    exported, digest = draft_with_attachment(app, alpha)
    assert digest in exported
    with in_tenant(app, alpha):
        imported = services.import_document(exported)
        assert [a["sha256"] for a in imported.document["sops"][-1]["attachments"]] == [digest]
        assert imported.notes == "Imported"


def test_import_drops_and_names_attachments_this_tenant_lacks(app, alpha, beta):
    exported, _digest = draft_with_attachment(app, alpha)
    with in_tenant(app, beta):
        imported = services.import_document(exported)
        sop = next(s for s in imported.document["sops"] if s["code"] == "screen-swap")
        assert sop["attachments"] == []
        assert "exported.png" in imported.notes and "screen-swap" in imported.notes
        db.session.rollback()
    with in_tenant(app, beta):  # the same bytes stored in beta: kept
        store_bytes(PNG + b"exported", "mine.png")
        imported = services.import_document(exported)
        sop = next(s for s in imported.document["sops"] if s["code"] == "screen-swap")
        assert len(sop["attachments"]) == 1 and imported.notes == "Imported"
