"""Screening and identification: instruments (data, not code), their scoring, screenings."""
