from django.apps import AppConfig


class SiteConfig(AppConfig):
    """A Django app of its own so that its commands (`demo`, `generate_demo_data`),
    templates and static files are found like any app's. It has no models."""

    name = "cdp.site"
    label = "site"
    verbose_name = "Omnitrail site"
