// Webhook deliveries read with the official @azure/eventgrid package: the envelope
// through its deserializer, the data checked against its generated ACS event models.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createSerializer } from "@azure/core-client";
import { EventGridDeserializer, isSystemEvent } from "@azure/eventgrid";

// The generated models are not exported by the package; load them by file.
const Mappers = await import(
  new URL(
    "./node_modules/@azure/eventgrid/dist/esm/generated/models/mappers.js",
    import.meta.url,
  )
);

const PREFIX = "Microsoft.Communication.";
const MODEL_NAMES = {
  ChatThreadParticipantAdded: "AcsChatParticipantAddedToThreadEventData",
  ChatThreadParticipantRemoved: "AcsChatParticipantRemovedFromThreadEventData",
};

function modelFor(eventType) {
  const name = eventType.slice(PREFIX.length);
  const model = Mappers[MODEL_NAMES[name] ?? `Acs${name}EventData`];
  assert.ok(model, `no ACS model for ${eventType}`);
  return model;
}

const file = process.env.SWITCHBOARD_EVENTS_FILE;
const delivered = JSON.parse(readFileSync(file, "utf8"));

test("every delivery is a valid Event Grid event of a known ACS type", async () => {
  const events = await new EventGridDeserializer().deserializeEventGridEvents(
    delivered,
  );
  assert.equal(events.length, delivered.length);
  for (const event of events) {
    assert.ok(event.eventTime instanceof Date);
    assert.ok(isSystemEvent(event.eventType, event));
    modelFor(event.eventType);
  }
});

test("each event's data matches the ACS model of its type", () => {
  const serializer = createSerializer(Mappers);
  for (const event of delivered) {
    const model = modelFor(event.eventType);
    const known = new Set(
      Object.values(model.type.modelProperties).map((p) => p.serializedName),
    );
    const extra = Object.keys(event.data).filter((key) => !known.has(key));
    assert.deepEqual(extra, [], `${event.eventType} has fields the model lacks`);

    // Serialising checks required fields and types; dates must parse.
    const typed = serializer.deserialize(model, event.data, "data");
    serializer.serialize(model, typed, "data");
    for (const [key, property] of Object.entries(model.type.modelProperties)) {
      if (property.required) {
        assert.ok(typed[key] !== undefined, `${event.eventType} lacks ${key}`);
      }
      if (property.type.name === "DateTime" && typed[key] !== undefined) {
        assert.ok(!Number.isNaN(typed[key].getTime()), `${key} is not a date`);
      }
    }
  }
});
