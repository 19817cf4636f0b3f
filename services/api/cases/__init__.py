"""The case routes: intake, commands, reads, and the privacy officer's review and erasure."""
