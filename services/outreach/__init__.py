"""Outreach, training and technical-assistance activities: their commands and reads."""
