"""SMS: the send API, the queue that hands messages to carriers, and what comes back."""
