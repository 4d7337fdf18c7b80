"""The admin of tracking plans: each plan edited as its file (the JSON that export
writes and import reads, checked before it is saved, refused beside the field with the
path to what is wrong), so an edit never loses a rule; the violations found, with
their samples, filterable by plan, source, kind and action."""

from __future__ import annotations

import json

import orjson
from django import forms
from django.contrib import admin
from django.http import HttpResponse
from django.utils.html import format_html, format_html_join

from cdp.admin_forms import OmnitrailAdmin
from cdp.tracking_plans.engine.document import PlanError, plan_summary
from cdp.tracking_plans.models import PlanViolationCount, TrackingPlan
from cdp.tracking_plans.selectors import plan_document, violations
from cdp.tracking_plans.services import canonical_plan, check_plan, delete_plan, save_plan

EXAMPLE = {
    "format": "omnitrail-tracking-plan/1",
    "name": "",
    "sources": [],
    "mode": "flag",
    "events": [
        {
            "type": "track",
            "name": "Order Completed",
            "properties": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}, "revenue": {"type": "number"}},
                "required": ["order_id"],
            },
        }
    ],
}


def pretty(document) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False)


class TrackingPlanAdminForm(forms.ModelForm):
    document = forms.CharField(
        label="The plan as JSON",
        widget=forms.Textarea(attrs={"rows": 30, "cols": 100, "spellcheck": "false"}),
        help_text="The plan file (docs/tracking-plans.md), as export writes it; a Segment "
        "Protocols export is read too. Checked before saving: nothing is dropped.",
    )

    class Meta:
        model = TrackingPlan
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["document"].initial = pretty(
            plan_document(self.instance) if self.instance.pk else EXAMPLE
        )

    def clean_document(self):
        text = self.cleaned_data["document"]
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise forms.ValidationError(
                f"not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
            ) from None
        try:
            canonical = canonical_plan(document)
            check_plan(canonical, plan=self._editing())
        except PlanError as error:
            raise forms.ValidationError(str(error)) from None
        return canonical

    def _editing(self) -> TrackingPlan | None:
        return self.instance if self.instance.pk else None

    def save(self, commit=True):
        # Written by the service (sources, digest and all), never by the ModelForm.
        self.instance = save_plan(self.cleaned_data["document"], plan=self._editing())
        return self.instance


@admin.register(TrackingPlan)
class TrackingPlanAdmin(OmnitrailAdmin):
    form = TrackingPlanAdminForm
    list_display = ["name", "sources", "planned_events", "modes_in_words", "updated_at"]
    search_fields = ["name", "description"]
    readonly_fields = [
        "planned_events",
        "modes_in_words",
        "events_table",
        "violations_table",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["document"]}),
        (
            "As saved",
            {"fields": ["planned_events", "modes_in_words", "events_table", "updated_at"]},
        ),
        ("Violations in the last 30 days", {"fields": ["violations_table"]}),
    ]
    actions = ["export_plans"]

    @admin.display(description="Sources")
    def sources(self, plan):
        return ", ".join(plan_document(plan)["sources"]) or "—"

    @admin.display(description="Planned events")
    def planned_events(self, plan):
        if not plan.pk:
            return "—"
        counts = plan_summary(plan_document(plan))
        return ", ".join(f"{count} {kind}" for kind, count in counts.items() if count) or "none"

    @admin.display(description="Modes")
    def modes_in_words(self, plan):
        return ", ".join(f"{kind}: {mode}" for kind, mode in plan.modes.items())

    @admin.display(description="Events")
    def events_table(self, plan):
        events = (plan.rules or {}).get("events", [])
        if not events:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    event["type"],
                    event["name"],
                    ", ".join((event["properties"] or {}).get("properties") or {}) or "—",
                    ", ".join((event["properties"] or {}).get("required") or []) or "—",
                )
                for event in events
            ),
        )
        return format_html(
            "<table><thead><tr><th>Type</th><th>Name</th><th>Properties</th>"
            "<th>Required</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="Violations (new first)")
    def violations_table(self, plan):
        found = violations(plan, days=30) if plan.pk else []
        if not found:
            return "none"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td><td><code>{}</code> {}</td></tr>",
            (
                (
                    "NEW" if row["new"] else "",
                    row["source"],
                    row["event_type"],
                    row["event_name"],
                    row["property"],
                    row["kind"],
                    row["count"],
                    ", ".join(f"{k} {n}" for k, n in row["actions"].items()),
                    row["sample"].get("value", ""),
                    row["sample"].get("message", ""),
                )
                for row in found
            ),
        )
        return format_html(
            "<table><thead><tr><th></th><th>Source</th><th>Event</th><th>Property</th>"
            "<th>Kind</th><th>Count</th><th>Done</th><th>Latest sample</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )

    def save_model(self, request, obj, form, change):
        pass  # the form's save() wrote it through the service

    def save_related(self, request, form, formsets, change):
        pass  # sources are written by the service

    def delete_model(self, request, obj):
        delete_plan(obj)

    @admin.action(description="Export the selected plans as JSON")
    def export_plans(self, request, queryset):
        plans = [plan_document(plan) for plan in queryset.order_by("name")]
        body = pretty(plans[0] if len(plans) == 1 else plans)
        response = HttpResponse(body, content_type="application/json")
        response["Content-Disposition"] = 'attachment; filename="tracking-plans.json"'
        return response


@admin.register(PlanViolationCount)
class PlanViolationCountAdmin(OmnitrailAdmin):
    """What broke a plan, a row per day, source, event, property, kind and action."""

    list_display = [
        "day",
        "plan",
        "source",
        "event_type",
        "event_name",
        "property",
        "kind",
        "action",
        "count",
        "sample_value",
    ]
    list_filter = ["plan", "source", "kind", "action", "day"]
    list_select_related = ["plan", "source"]
    search_fields = ["event_name", "property"]
    date_hierarchy = "day"
    readonly_fields = [field.name for field in PlanViolationCount._meta.fields]

    @admin.display(description="Sample")
    def sample_value(self, row):
        sample = row.sample or {}
        return (
            f"{sample.get('field', '')} = {sample.get('value', '')} ({sample.get('message', '')})"
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
