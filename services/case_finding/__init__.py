"""Finding a client within an organisation: names on the caseload, search, duplicates at intake."""
