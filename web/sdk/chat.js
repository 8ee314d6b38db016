// The chat REST calls of the Switchboard browser SDK (the ACS wire, api-version
// 2024-03-07), with the user's token as a Bearer token.

export const CHAT_API_VERSION = "2024-03-07";

export class ChatError extends Error {
  constructor(status, code, message) {
    super(`${status} ${code}: ${message}`);
    this.status = status;
    this.code = code;
  }
}

function threadPath(threadId) {
  return `/chat/threads/${encodeURIComponent(threadId)}`;
}

export function userIdentifier(rawId) {
  return { rawId, communicationUser: { id: rawId } };
}

export class ChatApi {
  // endpoint defaults to the page's origin; token is the user's access token.
  constructor({ endpoint, token }) {
    this.endpoint = endpoint ?? globalThis.location.origin;
    this.token = token;
  }

  async _call(method, path, body, params = {}) {
    const url = new URL(path, this.endpoint);
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined && value !== null) url.searchParams.set(name, value);
    }
    url.searchParams.set("api-version", CHAT_API_VERSION);
    const headers = { Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const answer = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await answer.text();
    const json = text ? JSON.parse(text) : null;
    if (!answer.ok) {
      const error = json?.error ?? {};
      throw new ChatError(answer.status, error.code ?? "", error.message ?? text);
    }
    return json;
  }

  async createThread(topic, participantIds = []) {
    const body = {
      topic,
      participants: participantIds.map((id) => ({ communicationIdentifier: userIdentifier(id) })),
    };
    const answer = await this._call("POST", "/chat/threads", body);
    return answer.chatThread;
  }

  getThread(threadId) {
    return this._call("GET", threadPath(threadId));
  }

  async sendMessage(threadId, content, { type = "text", senderDisplayName, metadata } = {}) {
    const body = { content, type };
    if (senderDisplayName !== undefined) body.senderDisplayName = senderDisplayName;
    if (metadata !== undefined) body.metadata = metadata;
    const answer = await this._call("POST", `${threadPath(threadId)}/messages`, body);
    return answer.id;
  }

  // Every message of the thread, newest first, following nextLink.
  async listMessages(threadId, { maxPageSize, startTime } = {}) {
    let page = await this._call("GET", `${threadPath(threadId)}/messages`, undefined, {
      maxPageSize,
      startTime,
    });
    const messages = [...page.value];
    while (page.nextLink) {
      const next = new URL(page.nextLink, this.endpoint);
      const params = Object.fromEntries(next.searchParams);
      delete params["api-version"];
      page = await this._call("GET", next.pathname, undefined, params);
      messages.push(...page.value);
    }
    return messages;
  }

  sendTyping(threadId, senderDisplayName) {
    const body = senderDisplayName === undefined ? {} : { senderDisplayName };
    return this._call("POST", `${threadPath(threadId)}/typing`, body);
  }

  sendReadReceipt(threadId, chatMessageId) {
    return this._call("POST", `${threadPath(threadId)}/readReceipts`, { chatMessageId });
  }
}
