"""An organisation as its administrator keeps it: its profile, its teams, its partner
organisations and its directory of known workers. Organisational facts only: nothing about a
survivor, and no contact details (a shelter's address is never here). Pure: no I/O."""
