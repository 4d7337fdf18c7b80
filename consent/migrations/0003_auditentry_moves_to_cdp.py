# The audit log moved to cdp (cdp.0004, which keeps this app's table): consent forgets
# the model, and no table changes.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('consent', '0002_privacy_requests_suppression_audit'),
        ('cdp', '0004_auditentry_moves_from_consent'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='AuditEntry')],
            database_operations=[],
        ),
    ]
