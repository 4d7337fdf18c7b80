"""The admin page of computed traits: staff define them (kind, event, property values,
property, window) without code; each is explained in words, with how many profiles have
a value; "Compute now" refreshes them for every profile."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from attribution.traits import engine
from attribution.traits.models import ComputedTrait, PredictiveModel
from attribution.traits.services import definition, refresh_traits
from cdp.admin_forms import OmnitrailAdmin


class ComputedTraitForm(forms.ModelForm):
    class Meta:
        model = ComputedTrait
        fields = ["name", "key", "kind", "event", "where", "property", "window_days", "active"]

    def clean_where(self):
        where = self.cleaned_data.get("where") or {}
        if not isinstance(where, dict) or any(
            not isinstance(k, str) or not k or isinstance(v, dict | list) for k, v in where.items()
        ):
            raise forms.ValidationError(
                'Map property names to plain values, e.g. {"category": "Jackets"}.'
            )
        return where

    def clean(self):
        cleaned = super().clean()
        if cleaned and cleaned.get("kind") and cleaned["kind"] != "count":
            if not (cleaned.get("property") or "").strip():
                self.add_error("property", "Name the property this kind reads.")
        return cleaned


@admin.register(ComputedTrait)
class ComputedTraitAdmin(OmnitrailAdmin):
    form = ComputedTraitForm
    list_display = ["name", "key", "in_words", "profiles", "computed_at", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["name", "key", "event", "property"]
    readonly_fields = ["in_words", "computed_at"]
    actions = ["compute_now"]

    @admin.display(description="In words")
    def in_words(self, trait):
        return engine.in_words(definition(trait)) if trait.kind else "—"

    @admin.display(description="Profiles with a value")
    def profiles(self, trait):
        return trait.values.count()

    @admin.action(description="Compute now for every profile")
    def compute_now(self, request, queryset):
        done = refresh_traits()
        self.message_user(
            request, f"computed traits refreshed for {done:,} profiles", messages.SUCCESS
        )


@admin.register(PredictiveModel)
class PredictiveModelAdmin(OmnitrailAdmin):
    """Each trained likelihood-to-purchase model with its out-of-time evaluation."""

    list_display = ["trained_at", "trait", "auc", "brier", "base_rate", "evaluated_on", "scored"]
    readonly_fields = [f.name for f in PredictiveModel._meta.fields] + ["in_words"]

    @admin.display(description="Evaluation in words")
    def in_words(self, stored):
        from attribution.traits.scoring import model_in_words

        return model_in_words(stored)

    def has_add_permission(self, request):
        return False
