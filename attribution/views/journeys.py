"""Placeholder until the page is built."""

from django.http import Http404


def journeys_page(request, *args, **kwargs):
    raise Http404("not built yet")
