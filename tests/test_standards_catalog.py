"""Standard templates: operators upload and offer them; a tenant starts a draft from one."""

from __future__ import annotations

import copy
import io
import json
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
import yaml

from repairqc.console import services as console
from repairqc.console.models import StandardTemplate
from repairqc.db import db, unit_of_work
from repairqc.errors import Conflict, NotFound
from repairqc.standards import services as standards
from repairqc.standards.catalog import available_templates, start_draft_from_template
from repairqc.standards.defaults import handbook_document
from repairqc.standards.models import StandardStatus, StandardVersion
from tests.conftest import PASSWORD, in_tenant, sign_in
from tests.test_accounts import copy_session_cookie, temporary_operator

PLATFORM = "http://localhost"


@pytest.fixture
def operator(app) -> Iterator[tuple[str, str]]:
    with temporary_operator(app) as credentials:
        yield credentials


@pytest.fixture
def prefix(app) -> Iterator[str]:
    """A code prefix for this test's templates; they are deleted afterwards (no rollback there)."""
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    yield prefix
    with app.app_context(), unit_of_work():
        db.control.execute(sa.delete(StandardTemplate).where(StandardTemplate.code.startswith(prefix)))


def template_document(app) -> dict:
    """The handbook's standards with a tell-tale change, so a copy is told apart from version 1."""
    with app.app_context():
        document = copy.deepcopy(handbook_document())
    document["service_targets"]["follow_up_days"] = 9
    return document


def export_text(document: dict, fmt: str = "yaml") -> bytes:
    payload = {"repairqc_standard": 1, "document": document}
    text = json.dumps(payload) if fmt == "json" else yaml.safe_dump(payload, allow_unicode=True)
    return text.encode("utf-8")


def upload(client, code: str, content: bytes, filename: str = "template.yaml", base_url=PLATFORM, **fields):
    data = {"code": code, "name_en": "Chain starter", "name_zh": "连锁入门", "description_en": "For chains",
            "file": (io.BytesIO(content), filename), **fields}  # fmt: skip
    return client.post(
        "/console/templates/", base_url=base_url, data=data, content_type="multipart/form-data"
    )


def operator_client(app, operator):
    client = app.test_client()
    email, password = operator
    signed_in = client.post("/console/login", base_url=PLATFORM, data={"email": email, "password": password})
    assert signed_in.status_code == 302
    return client


def templates(app, prefix: str) -> dict[str, StandardTemplate]:
    with app.app_context():
        rows = db.control.execute(sa.select(StandardTemplate).where(StandardTemplate.code.startswith(prefix)))
        result = {t.code: t for t in rows.scalars()}
        for template in result.values():
            db.control.expunge(template)
        return result


def make_template(app, code: str, *, active: bool = True) -> int:
    with app.app_context(), unit_of_work():
        uploaded = console.upload_template(
            export_text(template_document(app)).decode(), "yaml", code=code, name_en="Starter",
            name_zh="入门", is_active=active, uploaded_by=None,
        )  # fmt: skip
        return uploaded.template.id


def versions(app, tenant) -> dict[int, StandardVersion]:
    with in_tenant(app, tenant):
        rows = db.session.execute(sa.select(StandardVersion)).scalars().all()
        for version in rows:
            db.session.expunge(version)
        return {v.number: v for v in rows}


def _offers(app, tenant):
    with in_tenant(app, tenant):
        return available_templates()


def offered_codes(app, tenant) -> set[str]:
    return {offer.code for offer in _offers(app, tenant)}


# --- the operators' screens ---------------------------------------------------------------------


def test_operator_uploads_edits_and_offers_a_template(app, alpha, operator, prefix):
    client = operator_client(app, operator)
    assert client.get("/console/templates/", base_url=PLATFORM).status_code == 200
    document = template_document(app)

    saved = upload(client, f"{prefix}yaml", export_text(document))
    assert saved.status_code == 302 and saved.location.endswith("/console/templates/")
    as_json = upload(client, f"{prefix}json", export_text(document, "json"), "template.json", is_active="y")
    assert as_json.status_code == 302

    stored = templates(app, prefix)
    yaml_template = stored[f"{prefix}yaml"]
    assert yaml_template.document == standards.validated(document).model_dump(mode="json")
    assert yaml_template.document["service_targets"]["follow_up_days"] == 9
    assert (yaml_template.name_en, yaml_template.name_zh) == ("Chain starter", "连锁入门")
    assert yaml_template.created_by_id is not None
    assert not yaml_template.is_active and stored[f"{prefix}json"].is_active
    # Only what is offered reaches tenants.
    assert offered_codes(app, alpha) == {f"{prefix}json"}

    details = {"name_en": "Chain starter 2", "name_zh": "连锁入门二", "description_en": ""}
    edited = client.post(f"/console/templates/{yaml_template.id}/", base_url=PLATFORM, data=details)
    assert edited.status_code == 302
    offered = client.post(
        f"/console/templates/{yaml_template.id}/active", base_url=PLATFORM, data={"active": "1"}
    )
    assert offered.status_code == 302
    yaml_template = templates(app, prefix)[f"{prefix}yaml"]
    assert (yaml_template.name_en, yaml_template.description_en, yaml_template.is_active) == (
        "Chain starter 2", None, True,
    )  # fmt: skip
    assert offered_codes(app, alpha) == {f"{prefix}json", f"{prefix}yaml"}
    page = client.get("/console/templates/", base_url=PLATFORM)
    assert f"{prefix}yaml" in page.text and "Chain starter 2" in page.text


def test_invalid_files_are_refused_naming_the_fields_and_nothing_is_saved(app, operator, prefix):
    client = operator_client(app, operator)
    document = template_document(app)
    document["service_targets"]["follow_up_days"] = 0
    del document["training_policy"]
    document["inspection_template"]["sections"][0]["items"][0]["weight"] += 5

    refused = upload(client, f"{prefix}bad", export_text(document))
    assert refused.status_code == 400
    assert "service_targets.follow_up_days: must be greater than 0" in refused.text
    assert "training_policy: is required" in refused.text
    assert "not 100" in refused.text  # the weights rule names inspection_template
    assert 'value="Chain starter"' in refused.text  # what the operator typed is kept

    not_ours = upload(client, f"{prefix}other", b"name: something else\n")
    assert not_ours.status_code == 400 and "not a RepairQC standards file" in not_ours.text
    broken = upload(client, f"{prefix}broken", b"repairqc_standard: 1\ndocument: [unclosed\n")
    assert broken.status_code == 400 and "not valid YAML" in broken.text
    nested = upload(client, f"{prefix}nested", b"[" * 100_000, "deep.json")
    assert nested.status_code == 400 and "not valid JSON" in nested.text
    bad_code = upload(client, "Not A Slug!", export_text(template_document(app)))
    assert bad_code.status_code == 400 and "lowercase letters" in bad_code.text
    no_file = client.post("/console/templates/", base_url=PLATFORM, data={"code": f"{prefix}x"},
                          content_type="multipart/form-data")  # fmt: skip
    assert no_file.status_code == 400
    assert templates(app, prefix) == {}

    assert upload(client, f"{prefix}once", export_text(template_document(app))).status_code == 302
    again = upload(client, f"{prefix}once", export_text(template_document(app)))
    assert again.status_code == 400 and "already exists" in again.text
    assert set(templates(app, prefix)) == {f"{prefix}once"}


def test_staff_cannot_reach_the_template_screens(app, alpha, prefix):
    client = app.test_client()
    assert sign_in(client, alpha, "owner").status_code == 302
    tenant_host = f"http://{alpha.host}"
    assert client.get("/console/templates/", base_url=tenant_host).status_code == 404
    on_tenant_host = upload(client, f"{prefix}x", export_text(template_document(app)), base_url=tenant_host)
    assert on_tenant_host.status_code == 404
    # Even carrying the staff session to the platform host, the screens send to the sign-in.
    copy_session_cookie(client, alpha.host, "localhost")
    for response in (
        client.get("/console/templates/", base_url=PLATFORM),
        upload(client, f"{prefix}y", export_text(template_document(app))),
        client.post("/console/templates/1/active", base_url=PLATFORM, data={"active": "1"}),
    ):
        assert response.status_code == 302 and "/console/login" in response.location
    staff_credentials = client.post("/console/login", base_url=PLATFORM,
                                    data={"email": alpha.users["owner"], "password": PASSWORD})  # fmt: skip
    assert staff_credentials.status_code == 401
    assert templates(app, prefix) == {}


def test_unknown_template_is_a_404_page(app, operator):
    client = operator_client(app, operator)
    assert client.get("/console/templates/999999/", base_url=PLATFORM).status_code == 404
    missing = client.post("/console/templates/999999/active", base_url=PLATFORM, data={"active": "1"})
    assert missing.status_code == 404
    # Beyond PostgreSQL's integer range: refused as bad input, never a 500.
    assert client.get("/console/templates/99999999999/", base_url=PLATFORM).status_code in (400, 404)


def test_attachment_references_are_stripped_from_sops():
    document = {
        "sops": [
            {"code": "intake", "attachments": [{"id": 3}, {"id": 4}], "steps": [{"attachment_id": 7}]},
            {"code": "qc", "attachments": []},
        ],
        "service_targets": {"attachments": ["outside the SOPs: not ours to touch"]},
    }
    stripped, removed = console.strip_attachments(document)
    assert removed == 3
    assert stripped["sops"] == [
        {"code": "intake", "attachments": [], "steps": [{}]},
        {"code": "qc", "attachments": []},
    ]
    assert stripped["service_targets"] == document["service_targets"]
    assert console.strip_attachments({"device_categories": []}) == ({"device_categories": []}, 0)


def test_uploaded_sops_lose_their_attachments_and_the_operator_is_told(app, operator, prefix):
    client = operator_client(app, operator)
    document = template_document(app)
    attachment = {"sha256": "a" * 64, "filename": "photo.png", "content_type": "image/png", "size": 10}
    sop = {
        "code": "intake-photos",
        "category": "smartphone",
        "step": "intake",
        "title": {"en": "Intake photos", "zh": "接机拍照"},
        "body": {"en": "Photograph the device."},
        "attachments": [attachment],
    }
    document["sops"] = [*document.get("sops", []), sop]

    saved = upload(client, f"{prefix}sops", export_text(document))
    assert saved.status_code == 302
    page = client.get(saved.location, base_url=PLATFORM)
    assert "1 attachment reference was removed" in page.text
    stored = templates(app, prefix)[f"{prefix}sops"].document
    assert all(stored_sop["attachments"] == [] for stored_sop in stored["sops"])
    assert any(stored_sop["code"] == "intake-photos" for stored_sop in stored["sops"])


# --- the tenant's side ---------------------------------------------------------------------------


def test_deactivated_templates_are_not_offered(app, alpha, operator, prefix):
    kept, withdrawn = make_template(app, f"{prefix}kept"), make_template(app, f"{prefix}gone")
    client = operator_client(app, operator)
    stopped = client.post(f"/console/templates/{withdrawn}/active", base_url=PLATFORM, data={"active": "0"})
    assert stopped.status_code == 302
    offered = {offer.id for offer in _offers(app, alpha)}
    assert kept in offered and withdrawn not in offered
    with in_tenant(app, alpha), pytest.raises(NotFound):
        start_draft_from_template(withdrawn)
    assert set(versions(app, alpha)) == {1}


def test_tenant_starts_a_draft_holding_the_templates_document(app, alpha, prefix):
    template_id = make_template(app, f"{prefix}start")
    with in_tenant(app, alpha), unit_of_work():
        offer = next(o for o in available_templates() if o.id == template_id)
        assert (offer.name, offer.description) == ("Starter", None)
        draft = start_draft_from_template(template_id)
    stored = versions(app, alpha)
    draft = stored[2]
    assert draft.status is StandardStatus.DRAFT
    assert draft.document == templates(app, prefix)[f"{prefix}start"].document
    assert draft.document["service_targets"]["follow_up_days"] == 9
    assert stored[1].document["service_targets"]["follow_up_days"] == 3  # version 1 untouched
    assert f"{prefix}start" in draft.notes


def test_a_draft_already_there_is_a_conflict(app, alpha, prefix):
    template_id = make_template(app, f"{prefix}conflict")
    with in_tenant(app, alpha), unit_of_work():
        standards.start_draft()
    with in_tenant(app, alpha), pytest.raises(Conflict):
        start_draft_from_template(template_id)
    draft = versions(app, alpha)[2]
    assert draft.document["service_targets"]["follow_up_days"] == 3  # still the copy of version 1
    assert draft.notes is None


def test_starting_from_a_template_in_alpha_leaves_beta_alone(app, alpha, beta, prefix):
    template_id = make_template(app, f"{prefix}iso")
    before = {n: (v.status, v.document) for n, v in versions(app, beta).items()}
    with in_tenant(app, alpha), unit_of_work():
        start_draft_from_template(template_id)
    assert set(versions(app, alpha)) == {1, 2}
    assert {n: (v.status, v.document) for n, v in versions(app, beta).items()} == before


def test_the_qa_manager_starts_a_draft_from_a_template_on_the_standards_page(app, client, alpha, prefix):
    template_id = make_template(app, f"{prefix}screen")
    sign_in(client, alpha, "tech")
    assert (
        'data-testid="templates"' not in client.get("/admin/standards/", base_url=f"http://{alpha.host}").text
    )
    assert client.post("/admin/standards/from-template/", base_url=f"http://{alpha.host}",
                       data={"template_id": template_id}).status_code == 403  # fmt: skip
    sign_in(client, alpha, "qa")
    page = client.get("/admin/standards/", base_url=f"http://{alpha.host}").text
    assert 'data-testid="templates"' in page and "Start from “Starter”" in page
    started = client.post("/admin/standards/from-template/", base_url=f"http://{alpha.host}",
                          data={"template_id": template_id})  # fmt: skip
    assert started.status_code == 302 and started.location.endswith("/admin/standards/2/")
    assert versions(app, alpha)[2].document["service_targets"]["follow_up_days"] == 9
    again = client.post("/admin/standards/from-template/", base_url=f"http://{alpha.host}",
                        data={"template_id": template_id}, follow_redirects=True)  # fmt: skip
    assert "A draft already exists" in again.text
    assert set(versions(app, alpha)) == {1, 2}
