"""Federal reporting: jobs that turn de-identified inputs into releases."""
