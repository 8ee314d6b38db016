"""The errors the Rooms API answers, worded as ACS words them.

Rooms reports a bad argument as a 400 `BadRequest` whose message is a fixed
sentence and whose single detail (`BadArgument`) names the field and the
problem; unknown rooms are a 404 `NotFound` with a fixed sentence too.
"""

from __future__ import annotations

from switchboard.core.errors import AcsError, ErrorCode, ErrorDetail, bad_request

MALFORMED = "The request could not be understood by the server due to malformed syntax."
"""The top-level message of every bad-argument error."""

BAD_ARGUMENT = "BadArgument"
"""The code of each detail of a bad-argument error."""

ROOM_NOT_FOUND = "The server cannot find the requested resource."
"""The message of the 404 for a room that does not exist."""

BAD_IDENTIFIER = "Invalid format for communication identifier."
"""A create request named a participant whose raw id is not a user id."""

BAD_PARTICIPANTS = "Invalid value for the Participants."
"""A participants update named someone who cannot be a participant."""


def bad_argument(target: str, message: str) -> AcsError:
    """A 400 BadRequest with one BadArgument detail about `target`."""
    return bad_request(
        MALFORMED,
        details=[ErrorDetail(code=BAD_ARGUMENT, message=message, target=target)],
    )


def room_not_found() -> AcsError:
    """The 404 for a room id no room has."""
    return AcsError(404, ErrorCode.NOT_FOUND, ROOM_NOT_FOUND)


def bad_participants(message: str, details: list[ErrorDetail]) -> AcsError:
    """A 400 BadRequest about the participants, one detail per one refused."""
    return bad_request(message, details=details)
