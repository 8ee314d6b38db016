"""A node refuses to start with push credentials it cannot use, and says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import start_server


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SWITCHBOARD_PUSH_APNS_KEY_FILE": "missing.p8"},
            "push.apns_key_file is set but push.apns_team_id, push.apns_key_id, "
            "push.apns_topic is empty",
        ),
        (
            {
                "SWITCHBOARD_PUSH_APNS_KEY_FILE": "missing.p8",
                "SWITCHBOARD_PUSH_APNS_TEAM_ID": "T",
                "SWITCHBOARD_PUSH_APNS_KEY_ID": "K",
                "SWITCHBOARD_PUSH_APNS_TOPIC": "com.example",
            },
            "push credentials cannot be read: [Errno 2] No such file or directory",
        ),
        (
            {"SWITCHBOARD_PUSH_FCM_SERVICE_ACCOUNT_FILE": "{folder}/account.json"},
            "account.json: the service account has no 'client_email'",
        ),
        (
            {"SWITCHBOARD_PUSH_WNS_CLIENT_ID": "ms-app://s-1"},
            "push.wns_client_id is set but push.wns_client_secret is empty",
        ),
    ],
)
def test_unusable_credentials_stop_the_node(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    (tmp_path / "account.json").write_text('{"project_id": "p"}')
    env = {k: v.format(folder=tmp_path) for k, v in env.items()}

    with pytest.raises(RuntimeError) as failed:
        start_server(tmp_path / "node", env=env)

    assert "switchboard: push" in str(failed.value)
    assert message in str(failed.value)
