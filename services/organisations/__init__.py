"""An organisation's administration: its profile, teams, partners and worker directory
(`domain.organisation`), through the API (`services.api.organisation_routes`) and the CLI
(`haven organisation`)."""
