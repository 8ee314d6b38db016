"""Identity: communication users and their access tokens."""
