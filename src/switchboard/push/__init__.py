"""Push notifications: device registrations, triggers, and delivery to providers."""
