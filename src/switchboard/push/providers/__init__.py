"""Clients of the push services: APNs, FCM HTTP v1, WNS and Web Push."""
