"""Consent: purposes, consent records, suppression and data-subject requests (to come)."""
