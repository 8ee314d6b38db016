"""Switchboard: a self-hosted platform that speaks the ACS wire protocol."""

__version__ = "0.1.0"
