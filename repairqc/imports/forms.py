"""The upload form of the import screens. It only reads what the browser sent (a kind, a store,
an encoding among the choices); the file and every rule are checked by `imports.services`."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import FileField, Form, SelectField
from wtforms.validators import InputRequired, Optional

ENCODING_CHOICES = [
    ("auto", _l("Detect: UTF-8, else GB18030 (GBK)")),
    ("utf-8", _l("UTF-8")),
    ("gb18030", _l("GB18030 / GBK (Chinese Excel's default)")),
]


class UploadForm(Form):
    kind = SelectField(_l("What to import"), validators=[InputRequired(_l("Choose what to import."))])
    store = SelectField(
        _l("Store"),
        validators=[Optional()],
        description=_l("The store the customers, devices or equipment go to; staff rows name their store."),
    )
    encoding = SelectField(
        _l("Encoding of a CSV file"),
        choices=ENCODING_CHOICES,
        default="auto",
        description=_l("Only for CSV files; XLSX workbooks need no choice."),
    )
    file = FileField(_l("File (CSV or XLSX)"))
