// The realtime connection of the Switchboard browser SDK (protocol: docs/realtime.md).
//
//   const rt = new RealtimeConnection({ endpoint: location.origin, token });
//   rt.addEventListener("chatMessageReceived", (e) => show(e.detail.data));
//   rt.addEventListener("resync", () => reloadEverything());
//   await rt.connect();
//
// It answers heartbeats, reconnects with backoff and resumes from the last number,
// so a dropped network costs nothing; a `resync` event says state must be refetched.

export const REALTIME_PATH = "/switchboard/v1/realtime";

// Close codes after which reconnecting with the same token cannot help.
const FINAL_CODES = new Set([4000, 4001, 4002, 4005, 1008, 1009]);
// Close codes a fresh token from `getToken` can fix.
const TOKEN_CODES = new Set([4001, 4004]);

export function realtimeUrl(endpoint) {
  const url = new URL(REALTIME_PATH, endpoint);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

// A failed request: `code` and `status` as in the response's error (docs/calls.md).
export class RealtimeError extends Error {
  constructor(code, status, message) {
    super(message);
    this.name = "RealtimeError";
    this.code = code;
    this.status = status;
  }
}

export class RealtimeConnection extends EventTarget {
  // options: endpoint (defaults to the page's origin), and token (a string) or
  // getToken (an async function returning one); lastSeq and stream (from an
  // earlier connection's `ready` and events) to resume where it stopped.
  constructor({ endpoint, token, getToken, lastSeq = null, stream = null, maxBackoffMs = 5000 } = {}) {
    super();
    this.url = realtimeUrl(endpoint ?? globalThis.location.origin);
    this.token = token ?? null;
    this.getToken = getToken ?? null;
    this.lastSeq = lastSeq;
    this.stream = stream;
    this.maxBackoffMs = maxBackoffMs;
    this.ready = null;
    this.state = "idle";
    this.connects = 0;
    this._ws = null;
    this._failures = 0;
    this._silenceTimer = null;
    this._retryTimer = null;
    this._closed = false;
    this._pending = new Map(); // request id -> { resolve, reject }
    this._nextRequest = 0;
  }

  // Sends a request frame (docs/calls.md) and resolves with the `result` of the
  // response of the same id; rejects with a RealtimeError carrying `code` and
  // `status` when the response is an error or the socket closes first.
  request(method, params = {}) {
    const ws = this._ws;
    if (!ws || this.state !== "live") {
      return Promise.reject(
        new RealtimeError("NotConnected", 0, `${method}: the connection is not live`),
      );
    }
    this._nextRequest += 1;
    const id = `q${this._nextRequest}`;
    return new Promise((resolve, reject) => {
      this._pending.set(id, { resolve, reject, method });
      ws.send(JSON.stringify({ type: "request", id, method, params }));
    });
  }

  _answered(frame) {
    const pending = this._pending.get(frame.id);
    if (!pending) return;
    this._pending.delete(frame.id);
    if (frame.error) {
      const { code = "Error", status = 0, message = "" } = frame.error;
      pending.reject(new RealtimeError(code, status, `${pending.method}: ${message}`));
    } else {
      pending.resolve(frame.result ?? {});
    }
  }

  // A response cannot arrive on another socket: fail what waits on this one.
  _failPending(reason) {
    const pending = [...this._pending.values()];
    this._pending.clear();
    for (const { reject, method } of pending) {
      reject(new RealtimeError("ConnectionLost", 0, `${method}: ${reason}`));
    }
  }

  // Opens the socket and resolves with the ready frame (rejects on a final close).
  connect() {
    this._closed = false;
    return new Promise((resolve, reject) => {
      this._open(resolve, reject);
    });
  }

  close() {
    this._closed = true;
    clearTimeout(this._retryTimer);
    clearTimeout(this._silenceTimer);
    if (this._ws) this._ws.close(1000, "client closed");
    this._failPending("the connection was closed");
    this._setState("closed");
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("statechange", { detail: { state } }));
  }

  async _currentToken() {
    if (this.getToken) {
      this.token = await this.getToken();
    }
    return this.token;
  }

  async _open(resolve, reject) {
    this._setState("connecting");
    let token;
    try {
      token = await this._currentToken();
    } catch (error) {
      this._retry(resolve, reject, error);
      return;
    }
    const ws = new WebSocket(this.url);
    this._ws = ws;
    let opened = false;

    ws.onopen = () => {
      const auth = { type: "auth", token };
      if (this.lastSeq !== null) {
        auth.resumeFrom = this.lastSeq;
        if (this.stream !== null) auth.stream = this.stream;
      }
      ws.send(JSON.stringify(auth));
    };

    ws.onmessage = (message) => {
      const frame = JSON.parse(message.data);
      this._heard();
      if (frame.type === "ready") {
        opened = true;
        this._failures = 0;
        this.connects += 1;
        this.ready = frame;
        this.lastSeq = frame.seq;
        this.stream = frame.stream;
        this._setState("live");
        this.dispatchEvent(new CustomEvent("ready", { detail: frame }));
        if (resolve) resolve(frame);
        resolve = reject = null;
      } else if (frame.type === "event") {
        if (this.lastSeq !== null && frame.seq <= this.lastSeq) return;
        this.lastSeq = frame.seq;
        this.dispatchEvent(new CustomEvent("event", { detail: frame }));
        this.dispatchEvent(new CustomEvent(frame.event, { detail: frame }));
      } else if (frame.type === "response") {
        this._answered(frame);
      } else if (frame.type === "resync") {
        this.lastSeq = frame.seq;
        this.dispatchEvent(new CustomEvent("resync", { detail: frame }));
      } else if (frame.type === "ping") {
        ws.send('{"type":"pong"}');
      } else if (frame.type === "error") {
        this.dispatchEvent(new CustomEvent("servererror", { detail: frame }));
      }
    };

    ws.onclose = (closed) => {
      clearTimeout(this._silenceTimer);
      if (this._ws === ws) this._ws = null;
      this._failPending(`the connection closed (${closed.code})`);
      if (this._closed) return;
      const code = closed.code;
      const canRetry = TOKEN_CODES.has(code)
        ? this.getToken !== null
        : !FINAL_CODES.has(code);
      if (!canRetry) {
        this._setState("closed");
        const error = new Error(`realtime closed: ${code} ${closed.reason}`);
        error.code = code;
        this.dispatchEvent(new CustomEvent("closed", { detail: { code, reason: closed.reason } }));
        if (reject) reject(error);
        return;
      }
      this._retry(opened ? null : resolve, opened ? null : reject, null);
    };
  }

  _retry(resolve, reject, error) {
    this._failures += 1;
    this._setState("reconnecting");
    const base = Math.min(this.maxBackoffMs, 100 * 2 ** Math.min(this._failures, 10));
    const delay = base * (0.5 + Math.random() / 2);
    if (error) console.warn("realtime: retrying after", error);
    this._retryTimer = setTimeout(() => this._open(resolve, reject), delay);
  }

  // A server silent for twice its heartbeat interval (plus a margin) is gone.
  _heard() {
    clearTimeout(this._silenceTimer);
    const interval = (this.ready?.heartbeatIntervalS ?? 20) * 1000;
    const ws = this._ws;
    this._silenceTimer = setTimeout(() => {
      if (ws && ws === this._ws) ws.close(4999, "server silent");
    }, 2 * interval + 5000);
  }
}
