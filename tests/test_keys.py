"""Access keys: two of them, regenerated one at a time without downtime."""

from __future__ import annotations

import threading
import time

from azure.communication.identity import CommunicationIdentityClient
from azure.core.exceptions import ClientAuthenticationError

from tests.conftest import RunningServer
from tests.test_http import keys_show


def regenerate(server: RunningServer, which: str) -> str:
    import json
    import subprocess
    import sys

    argv = [sys.executable, "-m", "switchboard", "keys", "regenerate", which]
    result = subprocess.run(
        [*argv, "--data-dir", str(server.data_dir)], check=True, capture_output=True
    )
    key: str = json.loads(result.stdout)[which]
    return key


def client_for(server: RunningServer, key: str) -> CommunicationIdentityClient:
    return CommunicationIdentityClient.from_connection_string(
        f"endpoint={server.endpoint}/;accesskey={key}", retry_total=0
    )


def refused_soon(client: CommunicationIdentityClient, seconds: float = 10) -> bool:
    """True once the key is refused; nodes reread keys every couple of seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            client.create_user()
        except ClientAuthenticationError:
            return True
        time.sleep(0.2)
    return False


class Hammer:
    """Keeps creating users with one key in a thread and counts failures."""

    def __init__(self, client: CommunicationIdentityClient) -> None:
        self.client = client
        self.done = threading.Event()
        self.ok = 0
        self.failures: list[str] = []
        # A daemon, so a failing test can never keep the run from ending.
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + 120
        while not self.done.is_set() and time.monotonic() < deadline:
            try:
                self.client.create_user()
                self.ok += 1
            except Exception as exc:
                self.failures.append(repr(exc))

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


def test_rotation_never_disturbs_the_other_key(server_factory: type) -> None:
    server: RunningServer = server_factory.start()
    keys = keys_show(server)
    assert keys["primary"] == server.access_key

    # Rotate the secondary while the primary is in use.
    old_secondary = keys["secondary"]
    hammer = Hammer(client_for(server, keys["primary"]))
    new_secondary = regenerate(server, "secondary")
    client_for(server, new_secondary).create_user()  # accepted at once
    assert refused_soon(client_for(server, old_secondary))
    hammer.stop()
    assert hammer.failures == [] and hammer.ok > 0

    # Then the primary while the new secondary is in use.
    hammer = Hammer(client_for(server, new_secondary))
    new_primary = regenerate(server, "primary")
    client_for(server, new_primary).create_user()
    assert refused_soon(client_for(server, keys["primary"]))
    hammer.stop()
    assert hammer.failures == [] and hammer.ok > 0

    # The connection string follows the primary key.
    assert server.access_key == new_primary
    assert keys_show(server) == {"primary": new_primary, "secondary": new_secondary}


def test_a_restart_keeps_resource_keys_users_and_tokens(server_factory: type) -> None:
    import httpx

    first: RunningServer = server_factory.start()
    client = client_for(first, first.access_key)
    user, token = client.create_user_and_token(["chat"])
    keys_before = keys_show(first)
    jwks_before = httpx.get(f"{first.http_endpoint}/.well-known/jwks.json").json()
    assert first.stop() == 0

    second: RunningServer = server_factory.start(data_dir=first.data_dir)
    assert keys_show(second) == keys_before
    jwks_after = httpx.get(f"{second.http_endpoint}/.well-known/jwks.json").json()
    assert jwks_after == jwks_before
    me = httpx.get(
        f"{second.endpoint}/switchboard/v1/me",
        headers={"Authorization": f"Bearer {token.token}"},
    )
    assert me.status_code == 200 and me.json()["id"] == user.raw_id
    client_for(second, second.access_key).revoke_tokens(user)
