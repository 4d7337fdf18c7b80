"""The admin's segment editor. The rules are one JSON definition (docs/segments.md), the
only thing the form posts: the page's editor (static/attribution/segment_editor.js)
draws it as conditions and groups and writes every change back into it, and the JSON
itself is one "advanced" click away. Nothing is rebuilt from rows, so a saved rule comes
back exactly as it was stored, its values keeping their types ("0100" stays a string, 30
a number, true a boolean)."""

from __future__ import annotations

from django import forms

from attribution.segments import rules as segment_rules
from attribution.segments.models import Segment
from attribution.segments.services import check_references
from attribution.segments.vocabulary import check_names, resolve_segment_names


class SegmentAdminForm(forms.ModelForm):
    start_from = forms.ChoiceField(
        required=False,
        label="Start from a template",
        choices=[("", "—")] + [(k, t["name"]) for k, t in segment_rules.TEMPLATES.items()],
        help_text="Puts a built-in template's rules into the editor, to keep or change.",
    )
    definition = forms.JSONField(
        required=False,
        label="Rules as JSON",
        widget=forms.Textarea(attrs={"rows": 14, "class": "segment-json", "spellcheck": "false"}),
        help_text="The same rules as documented JSON (docs/segments.md). The editor above "
        "writes here; what you type here redraws the editor.",
    )

    class Meta:
        model = Segment
        fields = ["name", "description", "purpose", "refresh_minutes", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.definition:
            self.fields["definition"].initial = self.instance.definition

    def clean(self):
        cleaned = super().clean() or {}
        if "definition" in self.errors:  # not JSON: the field's own message says so
            return cleaned
        definition = cleaned.get("definition")
        if definition in (None, "", {}, []):
            if not cleaned.get("start_from"):
                self.add_error("definition", "definition: add at least one rule")
                return cleaned
            definition = segment_rules.TEMPLATES[cleaned["start_from"]]["definition"]
        try:
            definition = checked_definition(definition, self.instance.pk)
        except segment_rules.RuleError as error:
            self.add_error("definition", str(error))
            return cleaned
        cleaned["definition"] = definition
        return cleaned

    def save(self, commit=True):
        self.instance.definition = self.cleaned_data["definition"]
        if self.cleaned_data.get("start_from") and not self.instance.template:
            self.instance.template = self.cleaned_data["start_from"]
        return super().save(commit)


def checked_definition(definition, own_id: int | None) -> dict:
    """The definition with segments named by name resolved to ids, after the grammar,
    the segments it refers to and the events and channels it names were checked
    (RuleError names the place, e.g. `definition.all[1].event`)."""
    definition = resolve_segment_names(definition)
    segment_rules.validate(definition)
    check_references(definition, own_id)
    check_names(definition)
    return definition
