"""Voice and video calls: the call model, its signalling and its history."""
