"""Form and filter conversion for the project's own column types."""

from __future__ import annotations

from datetime import UTC

from flask_admin.contrib.sqla import filters
from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.form import DateTimeField
from flask_admin.model.filters import convert
from flask_admin.model.form import converts
from wtforms import StringField


class UTCDateTimeField(DateTimeField):
    """Date-time input in UTC; returns an aware datetime."""

    def process_formdata(self, valuelist: list[str]) -> None:
        super().process_formdata(valuelist)
        if self.data is not None and self.data.tzinfo is None:
            self.data = self.data.replace(tzinfo=UTC)

    def _value(self) -> str:
        if self.raw_data:
            return " ".join(self.raw_data)
        return self.data.astimezone(UTC).strftime(self.format[0]) if self.data else ""


class ModelConverter(AdminModelConverter):
    @converts("UTCDateTime")
    def convert_utc_datetime(self, field_args, **extra):
        return UTCDateTimeField(**field_args)

    @converts("EncryptedString")
    def convert_encrypted(self, field_args, **extra):
        return StringField(**field_args)


class FilterConverter(filters.FilterConverter):
    @convert("UTCDateTime")
    def conv_utc_datetime(self, column, name, **kwargs):
        return self.conv_datetime(column, name, **kwargs)
