"""AWS access through botocore: STS and SSO. Imported only by short-lived children and
one-shot CLI commands, never by the long-running tray or daemon."""
