"""The admin pages of segments and activation: the segment editor (rules as rows, the
estimated size, refresh now), destinations (export now), webhook deliveries (replay)
and the export files."""

import json

from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from attribution.segments import rules as segment_rules
from attribution.segments.audiences import send_now
from attribution.segments.destinations import replay
from attribution.segments.forms import SegmentAdminForm, checked_definition
from attribution.segments.models import Delivery, DeliveryEvent, Destination, Export, Segment
from attribution.segments.selectors import best_time_to_contact, estimate, segment_names
from attribution.segments.services import refresh_segments
from attribution.segments.tasks import refresh_one_segment
from attribution.segments.vocabulary import rule_vocabulary
from cdp.admin_forms import OmnitrailAdmin
from consent.models import Purpose


@admin.register(Segment)
class SegmentAdmin(OmnitrailAdmin):
    form = SegmentAdminForm
    change_form_template = "admin/attribution/segment/change_form.html"
    list_display = ["name", "size", "purpose", "refresh_minutes", "last_refreshed_at", "active"]
    list_filter = ["active", "purpose", "template"]
    search_fields = ["name", "description"]
    readonly_fields = ["in_words", "size", "last_refreshed_at", "best_time", "template"]
    fieldsets = [
        (None, {"fields": ["name", "description", "purpose", "refresh_minutes", "active"]}),
        ("Rules", {"fields": ["start_from", "in_words", "definition"]}),
        ("Now", {"fields": ["size", "last_refreshed_at", "best_time", "template"]}),
    ]
    actions = ["refresh_now"]

    @admin.display(description="The rules in words")
    def in_words(self, segment):
        if not segment.definition:
            return "—"
        return segment_rules.describe(segment.definition, segment_names())

    @admin.display(description="Best time to contact")
    def best_time(self, segment):
        best = best_time_to_contact(segment) if segment.pk else {}
        if not best.get("hour_of_week_label"):
            return "—"
        return f"{best['hour_of_week_label']}, on {best['channel']}"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        transaction.on_commit(lambda: _refresh_later(obj.pk))

    @admin.action(description="Refresh the members now")
    def refresh_now(self, request, queryset):
        for result in refresh_segments(queryset):
            self.message_user(
                request,
                f"{result.segment}: {result.size:,} members ({result.entered:,} entered, "
                f"{result.exited:,} left, {result.left_out_for_consent:,} left out for consent)",
                messages.SUCCESS,
            )

    def get_urls(self):
        estimate_url = path(
            "estimate/",
            self.admin_site.admin_view(self.estimate_view),
            name="attribution_segment_estimate",
        )
        return [estimate_url, *super().get_urls()]

    def estimate_view(self, request: HttpRequest) -> JsonResponse:
        """The size a definition would have now and how many consent leaves out, for the
        editor's Estimate button: POST {"definition", "purpose" (id or ""), "segment"
        (the segment's own id when editing)}. A wrong rule is a 400 naming its place."""
        if request.method != "POST":
            return JsonResponse({"code": "method_not_allowed", "message": "POST"}, status=405)
        if not self.has_view_or_change_permission(request):
            return JsonResponse({"code": "forbidden", "message": "not allowed"}, status=403)
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return _bad("body", "not JSON")
        if not isinstance(body, dict) or not body.get("definition"):
            return _bad("definition", "definition: add at least one rule")
        own = str(body.get("segment") or "")
        own_id = int(own) if own.isdigit() else None
        try:
            definition = checked_definition(body["definition"], own_id)
        except segment_rules.RuleError as error:
            return _bad(error.field, str(error))
        purpose = None
        if str(body.get("purpose") or "").isdigit():
            purpose = Purpose.objects.filter(pk=int(body["purpose"])).first()
        estimated = estimate(definition, purpose=purpose)
        return JsonResponse(
            {**estimated, "in_words": segment_rules.describe(definition, segment_names())}
        )

    def render_change_form(self, request, context, *args, **kwargs):
        obj = kwargs.get("obj") or context.get("original")
        vocabulary = rule_vocabulary()
        own_id = getattr(obj, "pk", None)
        vocabulary["segments"] = [s for s in vocabulary["segments"] if s["id"] != own_id]
        context["rule_vocabulary"] = vocabulary
        context["segment_id"] = own_id
        return super().render_change_form(request, context, *args, **kwargs)


def _bad(field: str, message: str) -> JsonResponse:
    return JsonResponse(
        {"code": "invalid_segment_rule", "message": message, "field": field}, status=400
    )


def _refresh_later(segment_id: int) -> None:
    refresh_one_segment.delay(segment_id)


@admin.register(Destination)
class DestinationAdmin(OmnitrailAdmin):
    list_display = ["name", "kind", "purpose", "format", "active"]
    filter_horizontal = ["segments"]
    actions = ["export_now"]

    @admin.action(description="Send the segments now (files, ad-platform audiences, webhooks)")
    def export_now(self, request, queryset):
        for destination in queryset.filter(active=True):
            for segment in destination.segments.all():
                summary = send_now(destination, segment)
                self.message_user(request, f"{segment} → {destination}: {summary}")


class DeliveryEventInline(admin.TabularInline):
    model = DeliveryEvent
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "profile", "at"]


@admin.register(Delivery)
class DeliveryAdmin(OmnitrailAdmin):
    """Webhook batches: failures stay here with their last error until replayed."""

    list_display = [
        "pk",
        "destination",
        "segment",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "sent_at",
    ]
    list_filter = ["status", "destination"]
    readonly_fields = [f.name for f in Delivery._meta.fields]
    inlines = [DeliveryEventInline]
    actions = ["replay_deliveries"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Replay (send again)")
    def replay_deliveries(self, request, queryset):
        self.message_user(request, f"{replay(queryset)} deliveries queued again")


@admin.register(Export)
class ExportAdmin(OmnitrailAdmin):
    """Every file a destination was sent, each downloadable (through the segment page,
    which checks the personal-data permission)."""

    list_display = [
        "created_at",
        "destination",
        "segment",
        "mode",
        "rows",
        "removed",
        "left_out_for_consent",
        "download",
    ]
    list_filter = ["mode", "destination"]
    readonly_fields = [f.name for f in Export._meta.fields] + ["download"]

    @admin.display(description="Download")
    def download(self, export):
        page = reverse("app-segment", args=[export.segment_id])
        links = [format_html('<a href="{}?file={}">file</a>', page, export.pk)]
        if export.removed_path:
            links.append(
                format_html('<a href="{}?file={}&amp;part=removed">removed</a>', page, export.pk)
            )
        return format_html_join(" · ", "{}", ((link,) for link in links))

    def has_add_permission(self, request):
        return False


# Event streams: stream destinations and their batches (the dead-letter list).
from attribution.streams import admin as streams_admin  # noqa: E402, F401

# Computed traits: their definitions, each in words.
from attribution.traits import admin as traits_admin  # noqa: E402, F401
