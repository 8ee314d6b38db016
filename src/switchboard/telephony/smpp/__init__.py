"""SMPP 3.4: the PDU codec, the ESME session and delivery receipts."""
