"""Placeholder until the page is built."""

from django.http import Http404


def review_queue(request, *args, **kwargs):
    raise Http404("not built yet")


def review_decide(request, *args, **kwargs):
    raise Http404("not built yet")
