// The chat REST calls of the Switchboard browser SDK (the ACS wire, api-version
// 2024-03-07), with the user's token as a Bearer token.

import { requestJson } from "./rest.js";

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

  _call(method, path, body, params = {}) {
    return requestJson({
      endpoint: this.endpoint,
      token: this.token,
      method,
      path,
      body,
      params,
      apiVersion: CHAT_API_VERSION,
      fail: (status, error, text) =>
        new ChatError(status, error.code ?? "", error.message ?? text),
    });
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
