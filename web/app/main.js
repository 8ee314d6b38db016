// The demo page: sign in with a token, show one thread, and keep it live.
import { ChatApi, RealtimeConnection } from "/sdk/index.js";

const $ = (id) => document.getElementById(id);
const rendered = new Map(); // message id -> <li>
let chat = null;
let realtime = null;
let threadId = "";
let typingTimer = null;

function setStatus(text, state) {
  $("status").textContent = text;
  $("status").dataset.state = state;
}

// Message bodies are shown as text, never parsed as HTML.
function render(message) {
  let item = rendered.get(message.id);
  if (!item) {
    item = document.createElement("li");
    item.dataset.id = message.id;
    item.innerHTML = '<span class="who"></span><span class="body"></span>';
    rendered.set(message.id, item);
    // Message ids grow with time: keep the list in id order, whichever came first.
    const later = [...$("messages").children].find(
      (other) => BigInt(other.dataset.id) > BigInt(message.id),
    );
    $("messages").insertBefore(item, later ?? null);
  }
  item.querySelector(".who").textContent = message.senderDisplayName || "someone";
  item.querySelector(".body").textContent = message.deleted ? "(deleted)" : message.text;
  item.classList.toggle("deleted", Boolean(message.deleted));
}

function fromRest(message) {
  return {
    id: message.id,
    senderDisplayName: message.senderDisplayName,
    text: message.content?.message ?? "",
    deleted: Boolean(message.deletedOn),
  };
}

function fromEvent(data) {
  return {
    id: data.id,
    senderDisplayName: data.senderDisplayName,
    text: data.message ?? "",
    deleted: Boolean(data.deletedOn),
  };
}

// Merges the thread's history into what live events already showed.
async function loadHistory() {
  const thread = await chat.getThread(threadId);
  $("topic").textContent = thread.topic;
  const messages = await chat.listMessages(threadId);
  for (const message of messages) {
    if (message.type === "text" || message.type === "html") render(fromRest(message));
  }
}

function onEvent(handler) {
  return (event) => {
    if (event.detail.data.threadId === threadId) handler(event.detail.data);
  };
}

async function signIn(event) {
  event.preventDefault();
  const token = $("token").value.trim();
  threadId = $("thread").value.trim();
  chat = new ChatApi({ token });
  realtime?.close();
  $("messages").replaceChildren();
  rendered.clear();
  realtime = new RealtimeConnection({ token });

  realtime.addEventListener("statechange", (e) => setStatus(e.detail.state, e.detail.state));
  realtime.addEventListener("chatMessageReceived", onEvent((data) => render(fromEvent(data))));
  realtime.addEventListener("chatMessageEdited", onEvent((data) => render(fromEvent(data))));
  realtime.addEventListener("chatMessageDeleted", onEvent((data) => render(fromEvent(data))));
  realtime.addEventListener("chatThreadPropertiesUpdated", onEvent((data) => {
    $("topic").textContent = data.properties?.topic ?? $("topic").textContent;
  }));
  realtime.addEventListener("typingIndicatorReceived", onEvent((data) => {
    $("typing").textContent = `${data.senderDisplayName || "someone"} is typing…`;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => ($("typing").textContent = ""), 3000);
  }));
  realtime.addEventListener("resync", () => loadHistory());
  realtime.addEventListener("closed", (e) => setStatus(`closed: ${e.detail.reason}`, "closed"));

  try {
    // Connect first, then load: every event after `ready` is applied on top.
    await realtime.connect();
    await loadHistory();
    $("signin").hidden = true;
    $("chat").hidden = false;
    setStatus("live", "live");
  } catch (error) {
    setStatus(`could not sign in: ${error.message}`, "closed");
  }
}

async function send(event) {
  event.preventDefault();
  const text = $("text").value;
  if (!text) return;
  $("text").value = "";
  const name = $("name").value.trim() || undefined;
  try {
    await chat.sendMessage(threadId, text, { senderDisplayName: name });
  } catch (error) {
    setStatus(`send failed: ${error.message}`, "closed");
  }
}

$("signin").addEventListener("submit", signIn);
$("composer").addEventListener("submit", send);
