from django.contrib import admin

from attribution.forms import ChannelRuleForm
from attribution.models import (
    AttributionRun,
    ChannelRule,
    Cost,
    Credit,
    FunnelStage,
    Goal,
    Holdout,
)

# The segments, destinations, deliveries and exports pages are registered by
# attribution/segments/admin.py, imported here because Django's admin discovers
# `attribution.admin` only.
from attribution.segments import admin as segments_admin  # noqa: F401
from cdp.admin_forms import OmnitrailAdmin


@admin.register(Goal)
class GoalAdmin(OmnitrailAdmin):
    list_display = ["key", "name", "event", "value_property", "lookback_days", "count_repeat"]


@admin.register(Cost)
class CostAdmin(OmnitrailAdmin):
    list_display = ["date", "channel", "campaign", "cost", "currency", "clicks"]
    list_filter = ["channel"]
    date_hierarchy = "date"


class CreditInline(admin.TabularInline):
    model = Credit
    extra = 0
    can_delete = False
    readonly_fields = ["model", "channel", "campaign", "conversions", "value"]


@admin.register(AttributionRun)
class AttributionRunAdmin(OmnitrailAdmin):
    list_display = ["started_at", "goal", "status", "journeys", "conversions", "value"]
    readonly_fields = [f.name for f in AttributionRun._meta.fields]
    inlines = [CreditInline]

    def has_add_permission(self, request):
        return False


@admin.register(ChannelRule)
class ChannelRuleAdmin(OmnitrailAdmin):
    """First match wins, in position order: reorder by editing the positions."""

    form = ChannelRuleForm
    list_display = ["position", "channel", "conditions", "active"]
    list_display_links = ["channel"]
    list_editable = ["position", "active"]


@admin.register(FunnelStage)
class FunnelStageAdmin(OmnitrailAdmin):
    list_display = ["position", "name", "events"]
    list_display_links = ["name"]
    list_editable = ["position"]


@admin.register(Holdout)
class HoldoutAdmin(OmnitrailAdmin):
    list_display = ["scope", "value", "percent", "goal", "started_at", "ended_at"]
    list_filter = ["scope", "goal"]
