"""The purposes every install starts with (consent/defaults.py)."""

from django.db import migrations

from consent.defaults import PURPOSES, ensure_default_purposes


def create(apps, schema_editor):
    ensure_default_purposes(apps.get_model("consent", "Purpose"))


def remove(apps, schema_editor):
    apps.get_model("consent", "Purpose").objects.filter(
        key__in=[p["key"] for p in PURPOSES], records__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_purposes_and_records")]
    operations = [migrations.RunPython(create, remove)]
