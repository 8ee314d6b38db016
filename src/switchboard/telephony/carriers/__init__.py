"""Carriers: the virtual phone network and real SMPP links behind one interface."""
