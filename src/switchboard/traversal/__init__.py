"""Network traversal: STUN/TURN codec, credentials, server and relay configurations."""

from switchboard.traversal.credentials import TurnCredentials, issue_credentials
from switchboard.traversal.turn import TurnServer, TurnSettings

__all__ = ["TurnCredentials", "TurnServer", "TurnSettings", "issue_credentials"]
