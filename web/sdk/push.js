// Push registrations of the Switchboard browser SDK (docs/push.md): register
// this browser's Web Push subscription (or any device) for the token's user,
// list, refresh and remove registrations, and fetch the VAPID public key.

import { requestJson } from "./rest.js";

export const PUSH_API_VERSION = "2026-12-01";
export const PUSH_PATH = "/switchboard/v1/push";

export class PushError extends Error {
  constructor(status, code, message, target) {
    super(`${status} ${code}: ${message}`);
    this.status = status;
    this.code = code;
    this.target = target;
  }
}

// Bytes of a base64url string (what keys and the VAPID key are written in).
export function fromBase64Url(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

// A base64url string, unpadded, of bytes.
export function toBase64Url(bytes) {
  let binary = "";
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export class PushApi {
  // endpoint defaults to the page's origin; token is the user's access token.
  constructor({ endpoint, token }) {
    this.endpoint = endpoint ?? globalThis.location.origin;
    this.token = token;
  }

  _call(method, path, body) {
    return requestJson({
      endpoint: this.endpoint,
      token: this.token,
      method,
      path: PUSH_PATH + path,
      body,
      apiVersion: PUSH_API_VERSION,
      fail: (status, error, text) =>
        new PushError(status, error.code ?? "", error.message ?? text, error.target),
    });
  }

  // The applicationServerKey to pass to PushManager.subscribe, as bytes.
  async vapidPublicKey() {
    const answer = await this._call("GET", "/webpush/vapidPublicKey");
    return fromBase64Url(answer.publicKey);
  }

  // Register a Web Push subscription (a PushSubscription or its toJSON() form).
  registerWebPush(subscription, { appId = "web", expiresOn } = {}) {
    const json = typeof subscription.toJSON === "function" ? subscription.toJSON() : subscription;
    const body = {
      platform: "webpush",
      appId,
      subscription: { endpoint: json.endpoint, keys: json.keys },
    };
    if (expiresOn !== undefined) body.expiresOn = toIso(expiresOn);
    return this._call("POST", "/registrations", body);
  }

  // Register a native device: platform apns, apns-voip, fcm or wns.
  registerDevice(platform, deviceToken, { appId, expiresOn } = {}) {
    const body = { platform, appId, deviceToken };
    if (expiresOn !== undefined) body.expiresOn = toIso(expiresOn);
    return this._call("POST", "/registrations", body);
  }

  // Subscribe this browser with its service worker registration and register it.
  async subscribe(serviceWorkerRegistration, options = {}) {
    const applicationServerKey = await this.vapidPublicKey();
    const subscription = await serviceWorkerRegistration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey,
    });
    return this.registerWebPush(subscription, options);
  }

  async listRegistrations() {
    const answer = await this._call("GET", "/registrations");
    return answer.value;
  }

  getRegistration(id) {
    return this._call("GET", `/registrations/${encodeURIComponent(id)}`);
  }

  // Extend a registration; optionally replace its device token or subscription.
  refreshRegistration(id, { expiresOn, deviceToken, subscription } = {}) {
    const body = {};
    if (expiresOn !== undefined) body.expiresOn = toIso(expiresOn);
    if (deviceToken !== undefined) body.deviceToken = deviceToken;
    if (subscription !== undefined) {
      const json = typeof subscription.toJSON === "function" ? subscription.toJSON() : subscription;
      body.subscription = { endpoint: json.endpoint, keys: json.keys };
    }
    return this._call("PATCH", `/registrations/${encodeURIComponent(id)}`, body);
  }

  async removeRegistration(id) {
    await this._call("DELETE", `/registrations/${encodeURIComponent(id)}`);
  }
}

function toIso(value) {
  return value instanceof Date ? value.toISOString() : value;
}
