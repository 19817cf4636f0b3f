"""Federal reporting (issue 6): jobs that turn de-identified inputs into releases."""
