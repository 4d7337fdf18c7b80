"""Placeholder until the page is built."""

from django.http import Http404


def segment_list(request, *args, **kwargs):
    raise Http404("not built yet")


def segment_detail(request, *args, **kwargs):
    raise Http404("not built yet")
