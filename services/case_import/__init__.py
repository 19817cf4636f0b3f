"""`haven import cases FILE.csv`: intakes from a spreadsheet, through the intake's own rules."""
