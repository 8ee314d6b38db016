"""Pieces every capability shares: errors, identifiers, time."""
