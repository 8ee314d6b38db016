"""Chat: threads, participants and messages, as the ACS chat data plane serves them."""
