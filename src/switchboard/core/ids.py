"""ACS raw identifiers: users `8:acs:<resource>_<uuid>`, phones `4:+<E.164>`."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_USER_ID = re.compile(rf"^8:acs:(?P<resource>{_UUID})_(?P<local>{_UUID})$")


@dataclass(frozen=True, slots=True)
class UserId:
    """A Switchboard user's raw id, split into its resource and local parts."""

    resource_id: str
    local_id: str

    @property
    def raw(self) -> str:
        """The raw id as it appears on the wire."""
        return f"8:acs:{self.resource_id}_{self.local_id}"

    def __str__(self) -> str:
        return self.raw


def new_user_id(resource_id: str) -> UserId:
    """A fresh user id in the given resource."""
    return UserId(resource_id, str(uuid.uuid4()))


def parse_user_id(raw: str) -> UserId | None:
    """The user id in `raw`, or None when it is not a Switchboard user id."""
    match = _USER_ID.match(raw)
    if match is None:
        return None
    return UserId(match["resource"], match["local"])
