"""The running instance: one per user, reached over a private Unix socket."""
