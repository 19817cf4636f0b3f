"""Outreach, training and technical assistance: an organisation's activity records (pure)."""
