"""The goal every install starts with (attribution/defaults.py)."""

from django.db import migrations

from attribution.defaults import GOALS, ensure_default_goals


def create(apps, schema_editor):
    ensure_default_goals(apps.get_model("attribution", "Goal"))


def remove(apps, schema_editor):
    apps.get_model("attribution", "Goal").objects.filter(
        key__in=[g["key"] for g in GOALS], runs__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("attribution", "0001_goals_costs_runs")]
    operations = [migrations.RunPython(create, remove)]
