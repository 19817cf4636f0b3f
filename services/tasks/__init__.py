"""Follow-up rules and tasks: reading and setting the rules, completing and snoozing tasks."""
