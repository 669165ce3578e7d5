"""Form and filter conversion for the project's own column types."""

from __future__ import annotations

import enum
from datetime import UTC
from functools import partial

from flask_admin.contrib.sqla import filters
from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.form import DateTimeField, Select2Field
from flask_admin.model.filters import convert
from flask_admin.model.form import converts
from wtforms import StringField, validators

from repairqc.models_base import LabelledEnum


def _labelled_enum(column) -> type[LabelledEnum] | None:
    enum_class = getattr(column.type, "enum_class", None)
    return enum_class if enum_class and issubclass(enum_class, LabelledEnum) else None


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


def _enum_value(value):
    return value.value if isinstance(value, enum.Enum) else value


def _enum_member(enum_class: type[LabelledEnum], value):
    """Form value -> enum member, so model rules see a member, not a bare string.

    An unknown value raises ValueError, which WTForms reports as an invalid choice.
    """
    if value is None or value == "" or isinstance(value, enum_class):
        return value or None
    return enum_class(value)


class ModelConverter(AdminModelConverter):
    @converts("UTCDateTime")
    def convert_utc_datetime(self, field_args, **extra):
        return UTCDateTimeField(**field_args)

    @converts("sqlalchemy.sql.sqltypes.Enum")
    def convert_enum(self, column, field_args, **extra):
        # Flask-Admin's own version offers raw values and coerces members by *name*, which
        # breaks edit forms of enums stored by value; ours shows labels and uses values.
        enum_class = _labelled_enum(column)
        choices = enum_class.choices() if enum_class else [(v, v) for v in column.type.enums]
        accepted: list = [value for value, _ in choices]
        if column.nullable:
            field_args["allow_blank"] = True
            accepted.append(None)
        self._nullable_common(column, field_args)
        field_args["choices"] = choices
        field_args["validators"].append(validators.AnyOf(accepted))
        field_args["coerce"] = partial(_enum_member, enum_class) if enum_class else _enum_value
        return Select2Field(**field_args)

    @converts("EncryptedString")
    def convert_encrypted(self, field_args, **extra):
        return StringField(**field_args)


class _EnumByValue:
    """Flask-Admin's enum filters look members up by *name*; our enums are stored and offered
    by value (a 500 with KeyError otherwise). Unknown values are ignored, not errors."""

    enum_class: type[enum.Enum] | None

    def _member(self, value):
        if self.enum_class is None or isinstance(value, self.enum_class):
            return value
        return self.enum_class(value)

    def validate(self, value) -> bool:
        if self.enum_class is None:
            return super().validate(value)
        values = [v.strip() for v in str(value).split(",")]
        known = {member.value for member in self.enum_class}
        return all(v in known for v in values)

    def _members(self, cleaned):
        return [self._member(v) for v in cleaned] if isinstance(cleaned, list) else self._member(cleaned)


# Each calls the plain filter's clean(), skipping the enum filter's name lookup.
class EnumEqual(_EnumByValue, filters.EnumEqualFilter):
    def clean(self, value):
        return self._members(filters.FilterEqual.clean(self, value))


class EnumNotEqual(_EnumByValue, filters.EnumFilterNotEqual):
    def clean(self, value):
        return self._members(filters.FilterNotEqual.clean(self, value))


class EnumInList(_EnumByValue, filters.EnumFilterInList):
    def clean(self, value):
        return self._members(filters.FilterInList.clean(self, value))


class EnumNotInList(_EnumByValue, filters.EnumFilterNotInList):
    def clean(self, value):
        return self._members(filters.FilterNotInList.clean(self, value))


class BoundedIntEqualFilter(filters.IntEqualFilter):
    """Foreign-key filter: values that cannot be an integer key are ignored, not a 500."""

    def validate(self, value) -> bool:
        try:
            return -(2**31) <= int(value) <= 2**31 - 1
        except (TypeError, ValueError):
            return False


class FilterConverter(filters.FilterConverter):
    enum = (EnumEqual, EnumNotEqual, filters.EnumFilterEmpty, EnumInList, EnumNotInList)

    @convert("UTCDateTime")
    def conv_utc_datetime(self, column, name, **kwargs):
        return self.conv_datetime(column, name, **kwargs)

    @convert("enum")
    def conv_enum(self, column, name, options=None, **kwargs):
        enum_class = _labelled_enum(column)
        return super().conv_enum(
            column, name, options or (enum_class.choices() if enum_class else None), **kwargs
        )
