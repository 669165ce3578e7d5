"""Forms of the operators' console (the sign-in form is shared with staff: accounts.forms)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, FileSize
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from repairqc.forms_base import strip_whitespace

#: A standards export is a few dozen kilobytes; anything far larger is not one.
MAX_TEMPLATE_FILE_BYTES = 1024 * 1024


class TemplateDetailsForm(FlaskForm):
    name_en = StringField(
        _l("Name (English)"), filters=[strip_whitespace], validators=[InputRequired(), Length(max=200)]
    )
    name_zh = StringField(
        _l("Name (Chinese)"), filters=[strip_whitespace], validators=[InputRequired(), Length(max=200)]
    )
    description_en = TextAreaField(
        _l("Description (English)"), filters=[strip_whitespace], validators=[Optional(), Length(max=2000)]
    )
    description_zh = TextAreaField(
        _l("Description (Chinese)"), filters=[strip_whitespace], validators=[Optional(), Length(max=2000)]
    )

    def details(self) -> dict[str, str | None]:
        return {name: self[name].data for name in ("name_en", "name_zh", "description_en", "description_zh")}


class TemplateUploadForm(TemplateDetailsForm):
    code = StringField(
        _l("Code"),
        filters=[strip_whitespace],
        validators=[InputRequired(), Length(max=40)],
        description=_l("Lowercase letters, digits, - and _; it cannot change later."),
    )
    file = FileField(
        _l("Standards file (YAML or JSON)"),
        validators=[
            FileRequired(),
            FileSize(MAX_TEMPLATE_FILE_BYTES, message=_l("The file is larger than 1 MB.")),
        ],
    )
    is_active = BooleanField(_l("Offer it to tenants at once"))
