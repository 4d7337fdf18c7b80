"""The base of every Omnitrail admin page: bad input is a message beside its field,
never a server error. Two holes Django's admin leaves are closed here: a JSON box
cleared to nothing (Django posts None, which a NOT NULL column refuses) takes the
field's default instead, and an id too large for the database in a many-to-many picker
is an "invalid choice" instead of an overflow in the query."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db import models

# The largest id a 64-bit integer column holds.
MAX_ID = 2**63 - 1


class JSONFieldOrDefault(forms.JSONField):
    """A JSON box that, left empty, means the model field's default ({} or [])."""

    when_empty: Any = None

    def to_python(self, value):
        if value in self.empty_values and self.when_empty is not None:
            return self.when_empty()
        return super().to_python(value)

    def validate(self, value):
        super().validate(value)
        if self.when_empty is None:
            return
        shape = type(self.when_empty())
        if shape in (dict, list) and not isinstance(value, shape):
            wanted = "an object, e.g. {}" if shape is dict else "a list, e.g. []"
            raise forms.ValidationError(f"Enter {wanted}", code="invalid")


class CheckedIdsField(forms.ModelMultipleChoiceField):
    """Ids that cannot be a row's are refused before they reach the query."""

    def clean(self, value):
        pk = self.queryset.model._meta.pk if self.queryset is not None else None
        if isinstance(pk, models.IntegerField | models.AutoField):
            for each in value or ():
                text = str(each).strip()
                if not text.lstrip("-").isdigit() or abs(int(text)) > MAX_ID:
                    raise forms.ValidationError(
                        self.error_messages["invalid_pk_value"],
                        code="invalid_pk_value",
                        params={"pk": each},
                    )
        return super().clean(value)


class OmnitrailAdmin(admin.ModelAdmin):
    """What every admin page of the project derives from."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.JSONField) and not db_field.null:
            kwargs.setdefault("form_class", JSONFieldOrDefault)
        elif isinstance(db_field, models.ManyToManyField):
            kwargs.setdefault("form_class", CheckedIdsField)
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if isinstance(field, JSONFieldOrDefault) and db_field.has_default():
            field.when_empty = db_field.get_default
        return field
