"""The admin's segment editor: rules as rows a marketer fills in (kind, name, operator,
value, NOT, group), the JSON beside them, and the estimated size before saving."""

from __future__ import annotations

import json

from django import forms

from attribution.segments import rules as segment_rules
from attribution.segments.models import Segment
from attribution.segments.selectors import estimate
from attribution.segments.services import check_references

NO_OP = [("", "—")]


class RuleRowForm(forms.Form):
    group = forms.IntegerField(min_value=1, initial=1, widget=forms.NumberInput(attrs={"size": 3}))
    negate = forms.BooleanField(required=False, label="NOT")
    kind = forms.ChoiceField(
        choices=[
            ("", "—"),
            ("trait", "Profile trait"),
            ("event", "Did event"),
            ("fact", "Channel / value fact"),
            ("channel", "Seen on channel"),
            ("segment", "In segment (id)"),
        ]
    )
    name = forms.CharField(
        max_length=255,
        help_text="Trait key, event name, fact, channel name or segment id.",
    )
    op = forms.ChoiceField(
        choices=NO_OP + [(op, segment_rules.OP_WORDS[op]) for op in segment_rules.TRAIT_OPS],
        required=False,
        label="Operator",
    )
    value = forms.CharField(
        required=False, help_text="For 'one of' and 'between': values separated by commas."
    )
    at_least = forms.IntegerField(required=False, min_value=1, label="At least (times)")
    within_days = forms.IntegerField(required=False, min_value=1, label="In the last (days)")
    where = forms.CharField(required=False, help_text="Event properties: key=value; key=value")

    def rule_row(self) -> dict:
        data = self.cleaned_data
        row = {k: data.get(k) for k in ("group", "negate", "kind", "name", "op")}
        row["at_least"], row["within_days"] = data.get("at_least"), data.get("within_days")
        row["where"] = _pairs(data.get("where") or "")
        row["value"] = _value(data.get("value") or "", data.get("op") or "", data)
        return row


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


def _value(text: str, op: str, data: dict):
    text = text.strip()
    numeric = op in ("gt", "gte", "lt", "lte", "between") or (
        data.get("kind") == "fact" and segment_rules.FACTS.get(data.get("name", "")) == "number"
    )
    if op in ("in", "between"):
        parts = [p.strip() for p in text.split(",") if p.strip()]
        return [
            (_number(p) if _number(p) is not None else p) if numeric or op == "in" else p
            for p in parts
        ]
    if numeric and _number(text) is not None:
        return _number(text)
    return text


def _pairs(text: str) -> dict:
    found = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        key, _, value = part.partition("=")
        if not key.strip() or not _:
            raise forms.ValidationError(f"where: write key=value (got {part!r})")
        found[key.strip()] = (
            _number(value.strip()) if _number(value.strip()) is not None else (value.strip())
        )
    return found


RuleFormSet = forms.formset_factory(RuleRowForm, extra=2, can_delete=True)


class SegmentAdminForm(forms.ModelForm):
    start_from = forms.ChoiceField(
        required=False,
        label="Start from a template",
        choices=[("", "—")] + [(k, t["name"]) for k, t in segment_rules.TEMPLATES.items()],
        help_text="Fills the rules from a built-in template when no rule row is filled in.",
    )
    definition = forms.JSONField(
        required=False,
        label="Rules as JSON",
        widget=forms.Textarea(attrs={"rows": 6, "cols": 90}),
        help_text="The same rules as documented JSON (docs/segments.md); used when no rule row "
        "is filled in, e.g. for deeper nesting than the rows allow.",
    )

    class Meta:
        model = Segment
        fields = ["name", "description", "purpose", "refresh_minutes", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        rows = None
        if self.instance.pk and self.instance.definition:
            rows = segment_rules.definition_to_rows(self.instance.definition)
            self.fields["definition"].initial = self.instance.definition
        initial = [_initial(row) for row in rows] if rows else None
        self.rules = RuleFormSet(self.data or None, prefix="rules", initial=initial)
        self.estimated: dict | None = None

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        if not self.rules.is_valid():
            raise forms.ValidationError("Some rule rows are incomplete: see the rules below.")
        try:
            rows = [
                form.rule_row()
                for form in self.rules.forms
                if form.has_changed() and not form.cleaned_data.get("DELETE")
            ]
        except forms.ValidationError as error:
            raise forms.ValidationError(f"rules: {error.messages[0]}") from None
        try:
            if rows:
                definition = segment_rules.rows_to_definition(rows)
            elif cleaned.get("start_from"):
                definition = segment_rules.TEMPLATES[cleaned["start_from"]]["definition"]
            elif cleaned.get("definition"):
                definition = cleaned["definition"]
            else:
                raise segment_rules.RuleError("definition", "add at least one rule")
            segment_rules.validate(definition)
            check_references(definition, self.instance.pk)
        except segment_rules.RuleError as error:
            raise forms.ValidationError(f"Rules: {error}") from None
        cleaned["definition"] = definition
        self.estimated = estimate(definition, purpose=cleaned.get("purpose"))
        if "_estimate" in self.data:
            raise forms.ValidationError(
                f"Estimated size: {self.estimated['size']:,} profiles "
                f"({self.estimated['left_out_for_consent']:,} left out for consent). "
                "Not saved yet: press Save to keep these rules.",
                code="estimate",
            )
        return cleaned

    def save(self, commit=True):
        self.instance.definition = self.cleaned_data["definition"]
        if self.cleaned_data.get("start_from") and not self.instance.template:
            self.instance.template = self.cleaned_data["start_from"]
        return super().save(commit)


def _initial(row: dict) -> dict:
    value = row.get("value")
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    where = "; ".join(f"{k}={v}" for k, v in (row.get("where") or {}).items())
    return {**row, "value": "" if value is None else value, "where": where}


def pretty(definition) -> str:
    return json.dumps(definition, indent=2)
