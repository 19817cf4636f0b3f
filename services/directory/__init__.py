"""The service directory's use cases: publishing, updating, withdrawing and importing listings
(`listing`, `importing`), and `haven directory import|export` (`command`)."""
