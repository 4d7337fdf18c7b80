"""Placeholder until the page is built."""

from django.http import Http404


def profile_search(request, *args, **kwargs):
    raise Http404("not built yet")


def profile_detail(request, *args, **kwargs):
    raise Http404("not built yet")


def profile_unmerge(request, *args, **kwargs):
    raise Http404("not built yet")
