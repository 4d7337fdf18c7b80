from django.contrib import admin

from attribution.models import AttributionRun, Cost, Credit, Goal


@admin.register(Goal)
class GoalAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "event", "value_property", "lookback_days", "count_repeat"]


@admin.register(Cost)
class CostAdmin(admin.ModelAdmin):
    list_display = ["date", "channel", "campaign", "cost", "currency", "clicks"]
    list_filter = ["channel"]
    date_hierarchy = "date"


class CreditInline(admin.TabularInline):
    model = Credit
    extra = 0
    can_delete = False
    readonly_fields = ["model", "channel", "campaign", "conversions", "value"]


@admin.register(AttributionRun)
class AttributionRunAdmin(admin.ModelAdmin):
    list_display = ["started_at", "goal", "status", "journeys", "conversions", "value"]
    readonly_fields = [f.name for f in AttributionRun._meta.fields]
    inlines = [CreditInline]

    def has_add_permission(self, request):
        return False
