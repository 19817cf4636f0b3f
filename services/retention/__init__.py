"""Retention: each organisation's policy for erasing closed cases, and the run that applies it."""
