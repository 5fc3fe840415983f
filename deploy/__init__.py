"""Running the system: the embedded broker and database, the process supervisor and the `qm` CLI."""
