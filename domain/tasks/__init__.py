"""Follow-up tasks: an organisation's follow-up rules and the tasks they make of a case."""
