"""The realtime channel: one WebSocket per client carrying events as they happen."""
