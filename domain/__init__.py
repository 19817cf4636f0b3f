"""The pure model: no I/O, no logging, no driver, web framework or cryptography imports."""
