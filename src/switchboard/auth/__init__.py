"""Authentication: HMAC-signed requests and user access tokens."""
