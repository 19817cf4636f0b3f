"""Screenings: the instruments offered, recording a screening and reading one."""
