from django.apps import AppConfig


class CdpConfig(AppConfig):
    name = "cdp"
    verbose_name = "Omnitrail CDP"
    default_auto_field = "django.db.models.BigAutoField"
