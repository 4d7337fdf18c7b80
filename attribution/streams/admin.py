"""The admin pages of event streams: the destinations (their filters, consent purpose,
counters; "Replay a date range"), and their batches, where the failed ones wait as the
dead-letter list with their last error ("Retry now")."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse

from attribution.streams.models import StreamBatch, StreamDestination
from attribution.streams.services import replay_range, retry_parked
from cdp.admin_forms import OmnitrailAdmin


class ReplayForm(forms.Form):
    start = forms.DateTimeField(label="From (UTC, included)")
    end = forms.DateTimeField(label="To (UTC, excluded)")

    def clean(self):
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end <= start:
            self.add_error("end", "must be after From")
        return cleaned


@admin.register(StreamDestination)
class StreamDestinationAdmin(OmnitrailAdmin):
    list_display = [
        "name",
        "url",
        "purpose",
        "active",
        "forwarded",
        "left_out_for_consent",
        "opted_out",
        "failed_batches",
    ]
    filter_horizontal = ["sources"]
    readonly_fields = ["cursor", "forwarded", "left_out_for_consent", "opted_out", "created_at"]
    actions = ["replay"]

    @admin.display(description="Failed batches (dead letter)")
    def failed_batches(self, destination):
        return destination.batches.filter(status=StreamBatch.Status.FAILED).count()

    @admin.action(description="Replay a date range (send its events once more)")
    def replay(self, request, queryset):
        form = ReplayForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            start, end = form.cleaned_data["start"], form.cleaned_data["end"]
            for destination in queryset:
                batches = replay_range(destination, start, end)
                events = sum(batch.events for batch in batches)
                self.message_user(
                    request,
                    f"{destination}: {events:,} events from {start:%Y-%m-%d %H:%M} to "
                    f"{end:%Y-%m-%d %H:%M} UTC queued again in {len(batches):,} batches",
                    messages.SUCCESS,
                )
            return None
        return TemplateResponse(
            request,
            "admin/attribution/streamdestination/replay.html",
            {
                **self.admin_site.each_context(request),
                "title": "Replay a date range",
                "form": form,
                "destinations": queryset,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )


@admin.register(StreamBatch)
class StreamBatchAdmin(OmnitrailAdmin):
    """Batches sent to stream destinations; the failed ones are the dead-letter list."""

    list_display = [
        "pk",
        "destination",
        "status",
        "events",
        "attempts",
        "last_error",
        "replay",
        "created_at",
        "sent_at",
    ]
    list_filter = ["status", "destination"]
    readonly_fields = [f.name for f in StreamBatch._meta.fields]
    actions = ["retry_now"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Retry now (failed batches)")
    def retry_now(self, request, queryset):
        self.message_user(request, f"{retry_parked(queryset)} batches queued again")
