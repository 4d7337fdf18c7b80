# The audit log moves from the consent app to cdp, the lowest layer, so that every app's
# pages can write to it. Its table stays where it is (consent_auditentry): only Django's
# state changes here, and consent.0003 forgets the model. The content type is renamed,
# so that the permissions on the audit log (and whoever holds them) follow it.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def rename_content_type(apps, schema_editor, *, old, new):
    ContentType = apps.get_model("contenttypes", "ContentType")
    types = ContentType.objects.using(schema_editor.connection.alias).filter(model="auditentry")
    # A migrate that stopped between the two apps' migrations may have created the
    # other one already: it is then left as it is.
    if not types.filter(app_label=new).exists():
        types.filter(app_label=old).update(app_label=new)


def forwards(apps, schema_editor):
    rename_content_type(apps, schema_editor, old="consent", new="cdp")


def backwards(apps, schema_editor):
    rename_content_type(apps, schema_editor, old="cdp", new="consent")


class Migration(migrations.Migration):

    dependencies = [
        ('cdp', '0003_touchpoint_profile_events_index'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='AuditEntry',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('username', models.CharField(help_text='Kept if the user is deleted.', max_length=150)),
                        ('action', models.CharField(choices=[('view', 'View'), ('export', 'Export'), ('change', 'Change'), ('erase', 'Erase')], max_length=10)),
                        ('object_type', models.CharField(max_length=100)),
                        ('object_id', models.CharField(blank=True, max_length=100)),
                        ('path', models.CharField(blank=True, max_length=300)),
                        ('at', models.DateTimeField(auto_now_add=True)),
                        ('user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'consent_auditentry',
                        'ordering': ['-at'],
                        'indexes': [models.Index(fields=['object_type', 'object_id'], name='audit_by_object')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
