"""What runs: the command line, the API, workers. The composition root lives here."""
