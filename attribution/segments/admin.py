"""The admin pages of segments and activation: the segment editor (rules as rows, the
estimated size, refresh now), destinations (export now), webhook deliveries (replay)
and the export files."""

from django.contrib import admin, messages
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from attribution.segments import rules as segment_rules
from attribution.segments.audiences import send_now
from attribution.segments.destinations import replay
from attribution.segments.forms import SegmentAdminForm, pretty
from attribution.segments.models import Delivery, DeliveryEvent, Destination, Export, Segment
from attribution.segments.selectors import best_time_to_contact, segment_names
from attribution.segments.services import refresh_segments
from attribution.segments.tasks import refresh_one_segment


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
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

    def render_change_form(self, request, context, *args, **kwargs):
        form = context["adminform"].form
        context["rules"] = form.rules
        context["estimated"] = form.estimated
        context["definition_json"] = pretty(form.instance.definition or {})
        return super().render_change_form(request, context, *args, **kwargs)


def _refresh_later(segment_id: int) -> None:
    refresh_one_segment.delay(segment_id)


@admin.register(Destination)
class DestinationAdmin(admin.ModelAdmin):
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
class DeliveryAdmin(admin.ModelAdmin):
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
class ExportAdmin(admin.ModelAdmin):
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
