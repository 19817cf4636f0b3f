"""The case aggregate: a survivor's case from first contact to closure."""
