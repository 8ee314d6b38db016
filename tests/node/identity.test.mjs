// The official @azure/communication-identity npm client against a real node.
//
// SWITCHBOARD_CONNECTION_STRING names the node; its development CA is trusted
// through NODE_EXTRA_CA_CERTS, so certificates are verified as usual.
import assert from "node:assert/strict";
import { test } from "node:test";

import { CommunicationIdentityClient } from "@azure/communication-identity";

const connectionString = process.env.SWITCHBOARD_CONNECTION_STRING;
if (!connectionString) {
  throw new Error("SWITCHBOARD_CONNECTION_STRING is not set");
}
const endpoint = /endpoint=([^;]+)/i.exec(connectionString)[1].replace(/\/$/, "");
const client = new CommunicationIdentityClient(connectionString);
const userId = /^8:acs:[0-9a-f-]{36}_[0-9a-f-]{36}$/;

// What the node's data plane makes of a token: the body of /me and its status.
async function whoami(token) {
  const answer = await fetch(`${endpoint}/switchboard/v1/me`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  return { status: answer.status, body: await answer.json() };
}

function minutesLeft(expiresOn) {
  return (expiresOn.getTime() - Date.now()) / 60000;
}

test("createUser returns an ACS user id", async () => {
  const user = await client.createUser();

  assert.match(user.communicationUserId, userId);
});

test("getToken issues a scoped token for the user", async () => {
  const user = await client.createUser();

  const issued = await client.getToken(user, ["chat", "voip"], {
    tokenExpiresInMinutes: 60,
  });

  assert.ok(issued.expiresOn instanceof Date);
  assert.ok(minutesLeft(issued.expiresOn) > 59 && minutesLeft(issued.expiresOn) <= 60);
  const me = await whoami(issued.token);
  assert.equal(me.status, 200);
  assert.equal(me.body.id, user.communicationUserId);
  assert.deepEqual(me.body.scopes, ["chat", "voip"]);
});

test("createUserAndToken returns both, with the default day of validity", async () => {
  const { user, token, expiresOn } = await client.createUserAndToken(["chat"]);

  assert.match(user.communicationUserId, userId);
  assert.ok(minutesLeft(expiresOn) > 1439 && minutesLeft(expiresOn) <= 1440);
  const me = await whoami(token);
  assert.equal(me.status, 200);
  assert.equal(me.body.id, user.communicationUserId);
  assert.deepEqual(me.body.scopes, ["chat"]);
});

test("revokeTokens invalidates the tokens issued before it", async () => {
  const { user, token } = await client.createUserAndToken(["voip"]);
  assert.equal((await whoami(token)).status, 200);

  await client.revokeTokens(user);

  const refused = await whoami(token);
  assert.equal(refused.status, 401);
  assert.equal(refused.body.error.message, "the access token has been revoked");
  const fresh = await client.getToken(user, ["voip"]);
  assert.equal((await whoami(fresh.token)).status, 200);
});

test("deleteUser ends the user's tokens and further issuing", async () => {
  const { user, token } = await client.createUserAndToken(["chat"]);

  await client.deleteUser(user);

  assert.equal((await whoami(token)).status, 401);
  await assert.rejects(client.getToken(user, ["chat"]), (error) => {
    assert.equal(error.statusCode, 404);
    assert.equal(error.code, "NotFound");
    return true;
  });
});

test("an expiry outside 60 to 1440 minutes is refused", async () => {
  await assert.rejects(
    client.createUserAndToken(["chat"], { tokenExpiresInMinutes: 59 }),
    (error) => {
      assert.equal(error.statusCode, 400);
      assert.equal(error.code, "InvalidRequestBody");
      assert.equal(error.message, "expiresInMinutes must be between 60 and 1440, not 59");
      return true;
    },
  );
});
