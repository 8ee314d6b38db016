"""Rooms: the ACS Rooms API, and who may join a room call in which role."""
