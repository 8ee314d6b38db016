// The virtual phone page: every handset's conversation, kept live by long polling,
// and a form on each handset to text a Switchboard number.
const API = "/virtual-phone/api";
const WAIT_S = 25;
const RETRY_MS = 2000;

const $ = (id) => document.getElementById(id);
const cards = new Map(); // handset number -> <article>
let since = "";

const STATUS_WORDS = {
  pending: "on its way",
  delivered: "delivered",
  failed: "not delivered",
  expired: "expired",
  sending: "sending",
  received: "received by Switchboard",
  refused: "refused by Switchboard",
};

function setStatus(text, state) {
  $("status").textContent = text;
  $("status").dataset.state = state;
}

async function call(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(API + path, init);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(data.error?.message ?? `the server answered ${response.status}`);
  }
  return data;
}

// Texts are shown as text, never parsed as HTML.
function messageItem(message) {
  const item = document.createElement("li");
  item.className = `message ${message.direction}`;
  item.dataset.id = message.id;
  item.dataset.status = message.status;
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = message.text;
  const meta = document.createElement("span");
  meta.className = "meta";
  const time = new Date(message.createdAt).toLocaleTimeString();
  const way = message.direction === "toHandset" ? "from" : "to";
  const status = STATUS_WORDS[message.status] ?? message.status;
  meta.textContent = `${way} ${message.peer} · ${time} · ${status}`;
  if (message.detail && message.status !== "delivered" && message.status !== "received") {
    meta.title = message.detail;
  }
  item.append(text, meta);
  return item;
}

function card(number) {
  let article = cards.get(number);
  if (article) return article;
  article = $("handset-template").content.firstElementChild.cloneNode(true);
  article.dataset.number = number;
  article.querySelector(".number").textContent = number;
  article.querySelector(".compose").addEventListener("submit", (event) => {
    event.preventDefault();
    send(article);
  });
  cards.set(number, article);
  // New handsets go first; existing cards never move, so typing is not disturbed.
  $("handsets").prepend(article);
  return article;
}

function render(handsets) {
  for (const handset of [...handsets].reverse()) {
    const list = card(handset.number).querySelector(".messages");
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    list.replaceChildren(...handset.messages.map(messageItem));
    if (atBottom) list.scrollTop = list.scrollHeight;
  }
}

async function send(article) {
  const to = article.querySelector(".compose .to");
  const text = article.querySelector(".compose .text");
  const error = article.querySelector(".error");
  error.textContent = "";
  const number = encodeURIComponent(article.dataset.number);
  try {
    await call("POST", `/handsets/${number}/messages`, {
      to: to.value.trim(),
      text: text.value,
    });
    text.value = "";
  } catch (failure) {
    error.textContent = failure.message;
  }
}

async function addHandset(event) {
  event.preventDefault();
  $("error").textContent = "";
  try {
    const handset = await call("POST", "/handsets", { number: $("new-number").value.trim() });
    card(handset.number);
    $("new-number").value = "";
  } catch (failure) {
    $("error").textContent = failure.message;
  }
}

async function showBlocks() {
  const { value } = await call("GET", "/numbers");
  for (const block of value) {
    const item = document.createElement("li");
    const where = block.locality || block.numberType;
    item.textContent = `${block.first} … (${block.count}) ${block.countryCode} ${where}, SMS ${block.sms}`;
    $("blocks").append(item);
    if (block.sms.includes("inbound")) {
      const option = document.createElement("option");
      option.value = block.first;
      $("switchboard-numbers").append(option);
    }
  }
}

// Each answer carries a mark; the next request waits until something changed after it.
async function follow() {
  for (;;) {
    try {
      const query = since ? `?since=${encodeURIComponent(since)}&waitSeconds=${WAIT_S}` : "";
      const data = await call("GET", `/conversations${query}`);
      since = data.since;
      render(data.handsets);
      setStatus("live", "live");
    } catch (failure) {
      setStatus(`offline: ${failure.message}`, "offline");
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }
}

$("new-handset").addEventListener("submit", addHandset);
showBlocks().catch((failure) => {
  $("error").textContent = failure.message;
});
follow();
