// The chat half of the demo app: the user's threads, one open thread, live.
import { $, nameOf, showError } from "/app/shared.js";

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

export class Chats {
  constructor(app) {
    this.app = app;
    this.threadId = "";
    this.rendered = new Map(); // message id -> <li>
    this.unread = new Set();
    this.typingTimer = null;
    this.lastTyping = 0;
    this._listen(app.realtime);
    $("composer").onsubmit = (event) => this.send(event);
    $("text").oninput = () => this.typing();
  }

  _listen(realtime) {
    const mine = (handler) => (event) => {
      const data = event.detail.data;
      if (data.threadId === this.threadId) handler(data);
      else if (event.type === "chatMessageReceived") this._markUnread(data.threadId);
    };
    const render = mine((data) => this.render(fromEvent(data)));
    realtime.addEventListener("chatMessageReceived", render);
    realtime.addEventListener("chatMessageEdited", render);
    realtime.addEventListener("chatMessageDeleted", render);
    realtime.addEventListener("chatThreadPropertiesUpdated", mine((data) => {
      $("topic").textContent = data.properties?.topic ?? $("topic").textContent;
      this.listThreads();
    }));
    realtime.addEventListener("typingIndicatorReceived", mine((data) => {
      $("typing").textContent = `${data.senderDisplayName || "someone"} is typing…`;
      clearTimeout(this.typingTimer);
      this.typingTimer = setTimeout(() => ($("typing").textContent = ""), 3000);
    }));
    for (const name of ["chatThreadCreated", "participantsAdded", "participantsRemoved"]) {
      realtime.addEventListener(name, () => this.listThreads());
    }
    realtime.addEventListener("resync", () => this.load(this.threadId || null));
  }

  async load(threadId) {
    await this.listThreads();
    if (threadId) await this.open(threadId);
  }

  // Every thread of the user (ACS list chat threads), most recent first.
  async listThreads() {
    let page;
    try {
      page = await this.app.chat._call("GET", "/chat/threads");
    } catch (error) {
      showError(`Could not list chats: ${error.message}`);
      return;
    }
    const list = $("threads");
    list.replaceChildren();
    for (const thread of page.value) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "thread";
      button.textContent = thread.topic || "Untitled chat";
      button.dataset.thread = thread.id;
      button.classList.toggle("open", thread.id === this.threadId);
      button.classList.toggle("unread", this.unread.has(thread.id));
      button.addEventListener("click", () => this.open(thread.id));
      item.append(button);
      list.append(item);
    }
    if (page.value.length === 0) {
      list.innerHTML = '<li class="hint">No chats yet: select people and start one.</li>';
    }
  }

  _markUnread(threadId) {
    this.unread.add(threadId);
    const button = document.querySelector(`#threads button[data-thread="${CSS.escape(threadId)}"]`);
    if (button) button.classList.add("unread");
    else this.listThreads();
  }

  async open(threadId) {
    this.threadId = threadId;
    this.unread.delete(threadId);
    this.rendered.clear();
    $("messages").replaceChildren();
    $("typing").textContent = "";
    for (const button of document.querySelectorAll("#threads button")) {
      button.classList.toggle("open", button.dataset.thread === threadId);
      if (button.dataset.thread === threadId) button.classList.remove("unread");
    }
    try {
      const thread = await this.app.chat.getThread(threadId);
      $("topic").textContent = thread.topic;
      const messages = await this.app.chat.listMessages(threadId);
      for (const message of messages) {
        if (message.type === "text" || message.type === "html") this.render(fromRest(message));
      }
    } catch (error) {
      showError(`Could not open the chat: ${error.message}`);
      return;
    }
    $("empty").hidden = true;
    $("chat").hidden = false;
  }

  // A new thread with the chosen people, named after everyone in it.
  async create(userIds) {
    const names = [this.app.name || "Me", ...userIds.map(nameOf)];
    try {
      const thread = await this.app.chat.createThread(names.join(", "), [
        this.app.userId,
        ...userIds,
      ]);
      await this.listThreads();
      await this.open(thread.id);
    } catch (error) {
      showError(`Could not start the chat: ${error.message}`);
    }
  }

  // Message bodies are shown as text, never parsed as HTML.
  render(message) {
    let item = this.rendered.get(message.id);
    if (!item) {
      item = document.createElement("li");
      item.dataset.id = message.id;
      item.innerHTML = '<span class="who"></span><span class="body"></span>';
      this.rendered.set(message.id, item);
      // Message ids grow with time: keep the list in id order, whichever came first.
      const later = [...$("messages").children].find(
        (other) => BigInt(other.dataset.id) > BigInt(message.id),
      );
      $("messages").insertBefore(item, later ?? null);
    }
    item.querySelector(".who").textContent = message.senderDisplayName || "someone";
    item.querySelector(".body").textContent = message.deleted ? "(deleted)" : message.text;
    item.classList.toggle("deleted", Boolean(message.deleted));
    item.classList.toggle("mine", message.senderDisplayName === this.app.name && Boolean(this.app.name));
    $("messages").scrollTop = $("messages").scrollHeight;
  }

  async send(event) {
    event.preventDefault();
    const text = $("text").value;
    if (!text) return;
    $("text").value = "";
    try {
      await this.app.chat.sendMessage(this.threadId, text, {
        senderDisplayName: this.app.name || undefined,
      });
    } catch (error) {
      showError(`The message was not sent: ${error.message}`);
    }
  }

  // At most one typing notification every few seconds.
  typing() {
    const now = Date.now();
    if (!this.threadId || now - this.lastTyping < 4000) return;
    this.lastTyping = now;
    this.app.chat.sendTyping(this.threadId, this.app.name || undefined).catch(() => {});
  }
}
