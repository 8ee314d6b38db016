// The demo app: sign in as a demo user through the sample trusted service (or
// with a token), chat, and make and receive calls with the browser SDK.
import { CallClient, ChatApi, RealtimeConnection } from "/sdk/index.js";
import { Chats } from "/app/chats.js";
import { CallView } from "/app/calls.js";
import { $, app, capitalized, showError } from "/app/shared.js";

// The sample trusted service's demo accounts (examples/trusted_service/README.md).
const DEMO_USERS = [
  { username: "alice", password: "wonderland" },
  { username: "bob", password: "the-builder" },
  { username: "carol", password: "in-the-house" },
];
const DEFAULT_SERVICE = "http://localhost:8000";

function setStatus(text, state) {
  $("status").textContent = text;
  $("status").dataset.state = state;
}

// The service answers plain JSON; FastAPI's errors carry `detail`.
async function serviceCall(method, path, session, body) {
  const headers = {};
  if (session) headers.Authorization = `Bearer ${session}`;
  if (body) headers["Content-Type"] = "application/json";
  let answer;
  try {
    answer = await fetch(new URL(path, app.service.url), {
      method,
      headers,
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw new Error(`the sign-in service at ${app.service.url} cannot be reached`);
  }
  const json = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new Error(json.detail ?? `the sign-in service answered ${answer.status}`);
  return json;
}

function serviceUrl() {
  const typed = $("service").value.trim();
  return typed || DEFAULT_SERVICE;
}

async function signInWithService(username, password) {
  app.service = { url: serviceUrl(), session: null };
  localStorage.setItem("switchboard.service", app.service.url);
  setStatus("signing in…", "connecting");
  const signedIn = await serviceCall("POST", "/signin", null, { username, password });
  app.service.session = signedIn.session;
  sessionStorage.setItem("switchboard.session", JSON.stringify({ ...app.service, username }));
  await startWithService(username);
}

async function startWithService(username) {
  app.name = capitalized(username);
  const issued = await serviceCall("POST", "/switchboard-token", app.service.session);
  const { value } = await serviceCall("GET", "/contacts", app.service.session);
  app.contacts = new Map(value.map((c) => [c.switchboardUserId, capitalized(c.username)]));
  // A fresh token on every (re)connect: the service's tokens live an hour.
  let first = issued.token;
  const getToken = async () => {
    const token = first ?? (await serviceCall("POST", "/switchboard-token", app.service.session)).token;
    first = null;
    if (app.chat) app.chat.token = token;
    return token;
  };
  await start(issued.token, getToken, null);
}

async function signInWithToken(event) {
  event.preventDefault();
  app.service = null;
  app.name = $("name").value.trim();
  app.contacts = new Map();
  const token = $("token").value.trim();
  await guarded(() => start(token, null, $("thread").value.trim() || null));
}

async function start(token, getToken, threadId) {
  app.chat = new ChatApi({ token });
  app.realtime?.close();
  const realtime = new RealtimeConnection(getToken ? { getToken } : { token });
  app.realtime = realtime;
  realtime.addEventListener("statechange", (e) => setStatus(e.detail.state, e.detail.state));
  realtime.addEventListener("closed", (e) => setStatus(`closed: ${e.detail.reason}`, "closed"));
  app.chats = new Chats(app);
  app.callView = new CallView(app);
  // Connect first, then load: every event after `ready` is applied on top.
  const ready = await realtime.connect();
  app.userId = ready.userId;
  // `?ice=relay` sends all media through the TURN server (for trying relays out).
  const relayOnly = new URLSearchParams(location.search).get("ice") === "relay";
  app.calls = new CallClient(realtime, { iceTransportPolicy: relayOnly ? "relay" : null });
  app.callView.attach(app.calls);
  await app.chats.load(threadId);
  renderContacts();
  $("signin-view").hidden = true;
  $("workspace").hidden = false;
  $("me").textContent = app.name ? `Signed in as ${app.name}` : `Signed in as …${app.userId.slice(-6)}`;
  $("me").hidden = false;
  $("signout").hidden = false;
  setStatus("live", "live");
  showError("");
}

async function guarded(action) {
  try {
    await action();
  } catch (error) {
    setStatus("signed out", "closed");
    showError(`Could not sign in: ${error.message}`);
  }
}

function selectedContacts() {
  return [...document.querySelectorAll("#contacts input:checked")].map((box) => box.value);
}

function renderContacts() {
  const list = $("contacts");
  list.replaceChildren();
  for (const [id, name] of app.contacts) {
    if (id === app.userId) continue;
    const item = document.createElement("li");
    item.className = "contact";
    item.dataset.user = name.toLowerCase();
    item.innerHTML =
      '<label><input type="checkbox"><span class="avatar"></span><span class="who"></span></label>' +
      '<button type="button" class="call" title="Video call">Call</button>';
    item.querySelector("input").value = id;
    item.querySelector(".avatar").textContent = name[0];
    item.querySelector(".who").textContent = name;
    item.querySelector("button").addEventListener("click", () => app.callView.start([id]));
    list.append(item);
  }
  if (list.children.length === 0) {
    list.innerHTML = '<li class="hint">Signed in with a token: call people by their user id below.</li>';
  }
  const update = () => {
    const chosen = selectedContacts().length;
    $("group-call").disabled = chosen === 0;
    $("group-chat").disabled = chosen === 0;
  };
  list.addEventListener("change", update);
  update();
}

function renderDemoUsers() {
  const list = $("demo-users");
  for (const user of DEMO_USERS) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "demo-user";
    button.dataset.user = user.username;
    button.innerHTML = '<span class="avatar"></span><span></span>';
    button.querySelector(".avatar").textContent = user.username[0].toUpperCase();
    button.lastChild.textContent = capitalized(user.username);
    button.addEventListener("click", () =>
      guarded(() => signInWithService(user.username, user.password)),
    );
    item.append(button);
    list.append(item);
  }
}

async function signOut() {
  if (app.calls) await app.calls.dispose();
  if (app.service?.session) {
    await serviceCall("POST", "/signout", app.service.session).catch(() => {});
  }
  sessionStorage.removeItem("switchboard.session");
  app.realtime?.close();
  location.reload();
}

function boot() {
  // The app's state, for the browser console.
  globalThis.switchboardDemo = app;
  const params = new URLSearchParams(location.search);
  $("service").value =
    params.get("service") ?? localStorage.getItem("switchboard.service") ?? DEFAULT_SERVICE;
  renderDemoUsers();
  $("signin").addEventListener("submit", signInWithToken);
  $("service-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(() => signInWithService($("username").value.trim(), $("password").value));
  });
  $("signout").addEventListener("click", signOut);
  $("group-call").addEventListener("click", () => app.callView.start(selectedContacts()));
  $("group-chat").addEventListener("click", () => app.chats.create(selectedContacts()));
  $("dial").addEventListener("submit", (event) => {
    event.preventDefault();
    const id = $("dial-id").value.trim();
    if (id) app.callView.start([id]);
  });
  $("join-group").addEventListener("submit", (event) => {
    event.preventDefault();
    const groupId = $("group-id").value.trim();
    if (groupId) app.callView.joinGroup(groupId);
  });

  // A reload of a tab keeps its user (sessionStorage is per tab).
  const saved = JSON.parse(sessionStorage.getItem("switchboard.session") ?? "null");
  if (saved) {
    app.service = { url: saved.url, session: saved.session };
    guarded(() => startWithService(saved.username)).then(() => {
      if (!app.userId) sessionStorage.removeItem("switchboard.session");
    });
  }
}

boot();
