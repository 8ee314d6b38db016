// The official @azure/communication-chat npm client against a real node.
//
// SWITCHBOARD_CONNECTION_STRING and SWITCHBOARD_ENDPOINT name the node; its
// development CA is trusted through NODE_EXTRA_CA_CERTS.
import assert from "node:assert/strict";
import { before, test } from "node:test";

import { ChatClient } from "@azure/communication-chat";
import { AzureCommunicationTokenCredential } from "@azure/communication-common";
import { CommunicationIdentityClient } from "@azure/communication-identity";

const connectionString = process.env.SWITCHBOARD_CONNECTION_STRING;
const endpoint = process.env.SWITCHBOARD_ENDPOINT;
if (!connectionString || !endpoint) {
  throw new Error("SWITCHBOARD_CONNECTION_STRING and SWITCHBOARD_ENDPOINT are required");
}
const identity = new CommunicationIdentityClient(connectionString);

async function chatUser(scopes = ["chat"]) {
  const { user, token } = await identity.createUserAndToken(scopes);
  const client = new ChatClient(endpoint, new AzureCommunicationTokenCredential(token));
  return { user, client };
}

async function collect(iterator) {
  const items = [];
  for await (const item of iterator) items.push(item);
  return items;
}

let alice;
let bob;
let threadId;

before(async () => {
  alice = await chatUser();
  bob = await chatUser();
  const result = await alice.client.createChatThread(
    { topic: "Node" },
    { participants: [{ id: bob.user, displayName: "Bob" }] },
  );
  threadId = result.chatThread.id;
});

test("createChatThread returns the thread and no invalid participants", async () => {
  const thread = await bob.client.getChatThreadClient(threadId).getProperties();
  assert.equal(thread.topic, "Node");
  assert.match(thread.id, /^19:.+@thread\.v2$/);
  assert.equal(thread.createdBy.communicationUserId, alice.user.communicationUserId);
});

test("invalid participants come back with their raw id as target", async () => {
  const stranger = {
    communicationUserId:
      "8:acs:00000000-0000-0000-0000-000000000000_11111111-1111-1111-1111-111111111111",
  };
  const result = await alice.client.createChatThread(
    { topic: "Strangers" },
    { participants: [{ id: stranger }] },
  );
  assert.equal(result.invalidParticipants.length, 1);
  assert.equal(result.invalidParticipants[0].target, stranger.communicationUserId);
  assert.equal(result.invalidParticipants[0].code, "Forbidden");
});

test("sendMessage and getMessage round-trip html, unicode and metadata", async () => {
  const thread = alice.client.getChatThreadClient(threadId);
  const content = "<p>Héllo <strong>Bob</strong> 👋</p>";
  const { id } = await thread.sendMessage(
    { content },
    { senderDisplayName: "Alice", type: "html", metadata: { tag: "hi" } },
  );
  const message = await bob.client.getChatThreadClient(threadId).getMessage(id);
  assert.equal(message.type, "html");
  assert.equal(message.content.message, content);
  assert.equal(message.senderDisplayName, "Alice");
  assert.deepEqual(message.metadata, { tag: "hi" });
  assert.equal(message.sender.communicationUserId, alice.user.communicationUserId);
  assert.equal(message.createdOn.getTime(), Number(id));
});

test("listMessages pages newest first through nextLink", async () => {
  const thread = alice.client.getChatThreadClient(threadId);
  const sent = [];
  for (const text of ["one", "two", "three"]) {
    sent.push((await thread.sendMessage({ content: text })).id);
  }
  const pages = [];
  for await (const page of thread.listMessages({ maxPageSize: 2 }).byPage()) {
    pages.push(page.map((m) => m.id));
  }
  assert.ok(pages.length >= 3);
  assert.ok(pages.every((page) => page.length <= 2));
  const ids = pages.flat();
  assert.deepEqual(ids.slice(0, 3), sent.reverse());
  assert.equal(new Set(ids).size, ids.length);
  const kinds = (await collect(thread.listMessages())).map((m) => m.type);
  assert.deepEqual(kinds.slice(-2), ["participantAdded", "topicUpdated"]);
});

test("updateMessage and deleteMessage change version and leave a tombstone", async () => {
  const thread = alice.client.getChatThreadClient(threadId);
  const { id } = await thread.sendMessage({ content: "draft" }, { metadata: { a: "1" } });
  await thread.updateMessage(id, { content: "final", metadata: { b: "2" } });
  const edited = await thread.getMessage(id);
  assert.equal(edited.content.message, "final");
  assert.deepEqual(edited.metadata, { a: "1", b: "2" });
  assert.ok(edited.editedOn instanceof Date);
  assert.ok(Number(edited.version) > Number(id));

  await thread.deleteMessage(id);
  const deleted = await bob.client.getChatThreadClient(threadId).getMessage(id);
  assert.ok(deleted.deletedOn instanceof Date);
});

test("participants, typing and read receipts", async () => {
  const thread = bob.client.getChatThreadClient(threadId);
  const people = await collect(thread.listParticipants());
  const ids = people.map((p) => p.id.communicationUserId).sort();
  assert.deepEqual(ids, [alice.user, bob.user].map((u) => u.communicationUserId).sort());

  assert.equal(await thread.sendTypingNotification({ senderDisplayName: "Bob" }), true);
  const { id } = await alice.client
    .getChatThreadClient(threadId)
    .sendMessage({ content: "read me" });
  await thread.sendReadReceipt({ chatMessageId: id });
  const receipts = await collect(thread.listReadReceipts());
  assert.deepEqual(
    receipts.map((r) => [r.sender.communicationUserId, r.chatMessageId]),
    [[bob.user.communicationUserId, id]],
  );
});

test("updateTopic, removeParticipant and deleteChatThread", async () => {
  const carol = await chatUser();
  const thread = alice.client.getChatThreadClient(threadId);
  await thread.addParticipants({ participants: [{ id: carol.user }] });
  await thread.updateTopic("Renamed");
  assert.equal((await carol.client.getChatThreadClient(threadId).getProperties()).topic, "Renamed");

  await thread.removeParticipant(carol.user);
  await assert.rejects(
    () => carol.client.getChatThreadClient(threadId).getProperties(),
    (error) => error.statusCode === 403,
  );

  await alice.client.deleteChatThread(threadId);
  await assert.rejects(
    () => bob.client.getChatThreadClient(threadId).getProperties(),
    (error) => error.statusCode === 404,
  );
});

test("a voip-only token is refused", async () => {
  const caller = await chatUser(["voip"]);
  await assert.rejects(
    () => caller.client.createChatThread({ topic: "no" }),
    (error) => error.statusCode === 403,
  );
});
