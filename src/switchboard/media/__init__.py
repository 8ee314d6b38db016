"""Media: the SFU engine that carries call audio, video and data (Janus)."""
