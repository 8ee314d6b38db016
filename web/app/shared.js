// What the modules of the demo app share: the signed-in state and small helpers.

export const $ = (id) => document.getElementById(id);

export const app = {
  realtime: null,
  chat: null,
  calls: null,
  userId: null,
  name: "",
  contacts: new Map(), // Switchboard user id -> name
  chats: null,
  callView: null,
  service: null, // { url, session } when signed in through the trusted service
};

export function nameOf(userId) {
  if (userId === app.userId) return app.name || "You";
  return app.contacts.get(userId) ?? `User …${String(userId).slice(-6)}`;
}

export function capitalized(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

export function showError(text) {
  $("error").textContent = text;
  $("error").hidden = !text;
}

