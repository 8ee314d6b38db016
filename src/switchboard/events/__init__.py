"""Events to services: webhooks in the Event Grid and CloudEvents formats."""
