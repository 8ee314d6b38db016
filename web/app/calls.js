// The call half of the demo app: ringing, the call stage with its video tiles,
// the controls and the in-call messages.
import { $, nameOf, showError } from "/app/shared.js";

const END_REASONS = {
  completed: "Call ended",
  declined: "Declined",
  canceled: "Canceled",
  noAnswer: "No answer",
  answeredElsewhere: "Answered on another device",
  declinedElsewhere: "Declined on another device",
  mediaServerLost: "The media server went away",
  failed: "The call could not be set up",
};

const STATE_LABELS = {
  connecting: "Connecting…",
  ringing: "Ringing…",
  connected: "Connected",
  ended: "Ended",
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Group calls are named by UUIDs (as in ACS); any other name is hashed into one
// (SHA-256, with the RFC 9562 §5.8 version and variant bits of a UUIDv8).
export async function groupIdOf(name) {
  if (UUID.test(name)) return name.toLowerCase();
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(name));
  const bytes = new Uint8Array(digest.slice(0, 16));
  bytes[6] = (bytes[6] & 0x0f) | 0x80;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function notice(text) {
  $("notice").textContent = text;
  $("notice").hidden = !text;
}

function pressed(button, on, label) {
  button.setAttribute("aria-pressed", String(on));
  button.textContent = label;
}

export class CallView {
  constructor(app) {
    this.app = app;
    this.call = null;
    this.incoming = null;
    this.timer = null;
    this.outgoing = false;
    this.titles = ["", ""];
    $("accept").onclick = () => this.accept(true);
    $("accept-audio").onclick = () => this.accept(false);
    $("decline").onclick = () => this.decline();
    $("hangup").onclick = () => this.hangUp();
    $("mute").onclick = () => this.toggle("mute");
    $("camera").onclick = () => this.toggle("camera");
    $("screen").onclick = () => this.toggle("screen");
    $("data-toggle").onclick = () => ($("data-panel").hidden = !$("data-panel").hidden);
    $("data-form").onsubmit = (event) => this.sendData(event);
  }

  attach(calls) {
    calls.addEventListener("incomingCall", (event) => this.ring(event.detail.call));
  }

  // Outgoing: ring the targets, or join a group call.
  async start(targets) {
    this.outgoing = true;
    const names = targets.map(nameOf).join(", ");
    await this._begin([`Calling ${names}`, `Call with ${names}`], () =>
      this.app.calls.startCall(targets, { video: true }),
    );
  }

  // A group call by name: everyone typing the same name meets in the same call.
  async joinGroup(name) {
    this.outgoing = false;
    const title = `Group call ${name}`;
    const groupId = await groupIdOf(name);
    await this._begin([title, title], () =>
      this.app.calls.join({ groupId }, { video: true }),
    );
  }

  async _begin(titles, make) {
    if (this.call) {
      showError("You are already in a call: hang up first.");
      return;
    }
    notice("");
    showError("");
    this._stage(titles, "connecting");
    try {
      const call = await make();
      if (call.state === "ended") {
        this._hideStage();
        this._ended(call.endReason);
        return;
      }
      this.show(call);
    } catch (error) {
      this._hideStage();
      showError(`The call could not start: ${error.message}`);
    }
  }

  ring(call) {
    this.incoming = call;
    const others = [...call.participants.values()].filter((p) => p.id !== call.caller.id);
    $("incoming-title").textContent = `${nameOf(call.caller.id)} is calling`;
    $("incoming-detail").textContent =
      (call.offeredVideo ? "Video call" : "Audio call") +
      (others.length ? ` with ${others.map((p) => nameOf(p.id)).join(", ")}` : "") +
      (call.subject ? ` · ${call.subject}` : "");
    $("incoming").dataset.call = call.id;
    call.addEventListener("ended", (event) => {
      if (this.incoming !== call) return;
      this.incoming = null;
      $("incoming").close();
      notice(`Missed call from ${nameOf(call.caller.id)} (${END_REASONS[event.detail.reason] ?? event.detail.reason})`);
    });
    if (!$("incoming").open) $("incoming").showModal();
  }

  async accept(video) {
    const call = this.incoming;
    this.incoming = null;
    $("incoming").close();
    if (!call) return;
    if (this.call) await this.hangUp();
    this.outgoing = false;
    // Everyone but this user: the caller first, then the other callees.
    const others = [call.caller.id, ...call.participants.keys()].filter(
      (id, index, ids) => id !== this.app.userId && ids.indexOf(id) === index,
    );
    const title = `Call with ${others.map(nameOf).join(", ")}`;
    this._stage([title, title], "connecting");
    this.call = call;
    this._bind(call);
    try {
      await call.accept({ video });
      this.show(call);
    } catch (error) {
      showError(`Could not answer: ${error.message}`);
    }
  }

  async decline() {
    const call = this.incoming;
    this.incoming = null;
    $("incoming").close();
    await call?.decline().catch((error) => showError(`Could not decline: ${error.message}`));
  }

  // titles: what the stage says while the call is set up, and once it is on.
  _stage(titles, state) {
    this.titles = titles;
    this._state(state);
    $("tiles").replaceChildren();
    $("data-log").replaceChildren();
    $("call").hidden = false;
    document.body.classList.add("in-call");
  }

  _hideStage() {
    $("call").hidden = true;
    document.body.classList.remove("in-call");
    clearInterval(this.timer);
    this.timer = null;
    this.call = null;
  }

  _state(state) {
    $("call-title").textContent = this.titles[state === "connected" ? 1 : 0];
    $("call-state").textContent = STATE_LABELS[state] ?? state;
    $("call-state").dataset.state = state;
    $("call").dataset.state = state;
    if (state === "connected" && !this.timer) {
      const since = Date.now();
      this.timer = setInterval(() => {
        const s = Math.floor((Date.now() - since) / 1000);
        $("call-timer").textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
      }, 1000);
    }
    if (state !== "connected") $("call-timer").textContent = "";
    $("hangup").textContent = state === "ringing" && this.outgoing ? "Cancel" : "Hang up";
  }

  // Shows a call whose media is up: tiles for everyone, the controls live.
  show(call) {
    if (this.call !== call) {
      this.call = call;
      this._bind(call);
    }
    this._state(call.state);
    this._localTile();
    for (const participant of call.participants.values()) {
      this._tile(participant);
      for (const published of participant.streams.values()) this._attachStream(participant, published);
    }
    pressed($("mute"), call.muted, call.muted ? "Unmute" : "Mute");
    pressed($("camera"), call.video, call.video ? "Stop video" : "Start video");
    pressed($("screen"), false, "Share screen");
  }

  _bind(call) {
    call.addEventListener("stateChanged", (e) => this.call === call && this._state(e.detail.state));
    call.addEventListener("participantJoined", (e) => this._tile(e.detail.participant));
    call.addEventListener("participantUpdated", (e) => this._tile(e.detail.participant));
    call.addEventListener("participantLeft", (e) => this._removeParticipant(e.detail.participant));
    call.addEventListener("streamAdded", (e) => this._attachStream(e.detail.participant, e.detail));
    call.addEventListener("streamRemoved", (e) => this._detachStream(e.detail));
    call.addEventListener("localStreamChanged", () => this._localTile());
    call.addEventListener("screenShareChanged", (e) => this._screenTile(e.detail.stream));
    call.addEventListener("data", (e) => this._dataReceived(e.detail));
    call.addEventListener("error", (e) => showError(`Media: ${e.detail.error.message}`));
    call.addEventListener("ended", (e) => {
      if (this.call !== call) return;
      this._hideStage();
      this._ended(e.detail.reason);
    });
  }

  _ended(reason) {
    notice(END_REASONS[reason] ?? `Call ended (${reason})`);
    $("notice").dataset.reason = reason;
  }

  _newTile(key, name) {
    let tile = $("tiles").querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (tile) return tile;
    tile = document.createElement("figure");
    tile.className = "tile";
    tile.dataset.key = key;
    tile.innerHTML =
      '<video autoplay playsinline></video><span class="avatar"></span>' +
      '<figcaption><span class="name"></span><span class="flags"></span></figcaption>';
    tile.querySelector(".avatar").textContent = name[0] ?? "?";
    tile.querySelector(".name").textContent = name;
    $("tiles").append(tile);
    return tile;
  }

  _play(tile, stream, muted) {
    const video = tile.querySelector("video");
    video.muted = muted;
    if (video.srcObject !== stream) video.srcObject = stream;
    video.play().catch(() => {});
  }

  _localTile() {
    const call = this.call;
    if (!call?.localStream) return;
    const tile = this._newTile("local", `${nameOf(this.app.userId)} (you)`);
    tile.classList.add("local");
    tile.classList.toggle("no-video", !call.video);
    tile.querySelector(".flags").textContent = call.muted ? "muted" : "";
    this._play(tile, call.localStream, true);
  }

  _screenTile(stream) {
    const key = "local-screen";
    if (!stream) {
      $("tiles").querySelector(`[data-key="${key}"]`)?.remove();
      pressed($("screen"), false, "Share screen");
      return;
    }
    const tile = this._newTile(key, "Your screen");
    tile.classList.add("screen", "local");
    this._play(tile, stream, true);
    pressed($("screen"), true, "Stop sharing");
  }

  _tile(participant) {
    if (!participant) return;
    const tile = this._newTile(`user:${participant.id}`, nameOf(participant.id));
    tile.dataset.participant = participant.id;
    tile.dataset.state = participant.state;
    tile.classList.toggle("no-video", !participant.video || !tile.querySelector("video").srcObject);
    const flags = [];
    if (participant.state === "ringing") flags.push("ringing…");
    if (participant.muted) flags.push("muted");
    if (participant.screenSharing) flags.push("sharing");
    tile.querySelector(".flags").textContent = flags.join(" · ");
  }

  _attachStream(participant, { feedId, kind, stream }) {
    if (!participant) return;
    if (kind === "screen") {
      const tile = this._newTile(`feed:${feedId}`, `${nameOf(participant.id)}'s screen`);
      tile.classList.add("screen");
      tile.dataset.feed = feedId;
      tile.dataset.participant = participant.id;
      this._play(tile, stream, true);
      return;
    }
    const tile = this._newTile(`user:${participant.id}`, nameOf(participant.id));
    tile.dataset.feed = feedId;
    this._play(tile, stream, false);
    this._tile(participant);
  }

  _detachStream({ feedId, kind, participant }) {
    if (kind === "screen") {
      $("tiles").querySelector(`[data-key="feed:${feedId}"]`)?.remove();
      return;
    }
    if (!participant) return;
    const tile = $("tiles").querySelector(`[data-key="user:${CSS.escape(participant.id)}"]`);
    if (tile) {
      tile.querySelector("video").srcObject = null;
      tile.classList.add("no-video");
    }
  }

  _removeParticipant(participant) {
    for (const tile of $("tiles").querySelectorAll(`[data-participant="${CSS.escape(participant.id)}"]`)) {
      tile.remove();
    }
    const left = document.createElement("li");
    left.className = "system";
    left.textContent = `${nameOf(participant.id)} left`;
    $("data-log").append(left);
  }

  async hangUp() {
    const call = this.call;
    if (!call) {
      this._hideStage();
      return;
    }
    try {
      if (call.state === "ringing" && this.outgoing) await call.cancel();
      else await call.leave();
    } catch (error) {
      showError(`Hang-up failed: ${error.message}`);
      this._hideStage();
    }
  }

  async toggle(control) {
    const call = this.call;
    if (!call || call.state === "ended") return;
    try {
      if (control === "mute") {
        await (call.muted ? call.unmute() : call.mute());
        pressed($("mute"), call.muted, call.muted ? "Unmute" : "Mute");
      } else if (control === "camera") {
        await (call.video ? call.stopVideo() : call.startVideo());
        pressed($("camera"), call.video, call.video ? "Stop video" : "Start video");
      } else if (call.screenStream) {
        await call.stopScreenShare();
      } else {
        await call.startScreenShare();
      }
      this._localTile();
    } catch (error) {
      showError(`${control}: ${error.message}`);
    }
  }

  _logData(from, text, mine) {
    const item = document.createElement("li");
    item.dataset.from = from;
    item.classList.toggle("mine", mine);
    item.innerHTML = '<span class="who"></span><span class="body"></span>';
    item.querySelector(".who").textContent = mine ? "You" : nameOf(from);
    item.querySelector(".body").textContent = text;
    $("data-log").append(item);
    $("data-log").scrollTop = $("data-log").scrollHeight;
  }

  _dataReceived({ from, payload }) {
    const text = typeof payload === "string" ? payload : `(${payload.byteLength} bytes)`;
    this._logData(from, text, false);
    $("data-panel").hidden = false;
  }

  sendData(event) {
    event.preventDefault();
    const text = $("data-text").value;
    if (!text || !this.call) return;
    try {
      this.call.sendData(text, { reliable: $("data-reliable").checked });
      $("data-text").value = "";
      this._logData(this.app.userId, text, true);
    } catch (error) {
      showError(error.message);
    }
  }
}
