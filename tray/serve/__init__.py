"""Handing a role's keys to processes that ask again: ``credential_process`` documents
and a token-protected loopback endpoint for the SDKs' container provider."""
