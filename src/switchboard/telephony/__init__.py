"""Telephony: carriers that reach the phone network, and their codecs."""
