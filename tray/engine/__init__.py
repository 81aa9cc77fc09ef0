"""The engine: the use cases the CLI and the refresher share, the refresher, its scheduler,
MFA sessions and the child process that runs each AssumeRole."""
