"""Placeholder until the page is built."""

from django.http import Http404


def overview(request, *args, **kwargs):
    raise Http404("not built yet")


def attribution_page(request, *args, **kwargs):
    raise Http404("not built yet")
