// Calls in the Switchboard browser SDK (protocol: docs/calls.md, reference:
// docs/calling-sdk.md).
//
//   const calls = await CallClient.create({ token });
//   calls.addEventListener("incomingCall", (e) => e.detail.call.accept({ video: true }));
//   const call = await calls.startCall([bobId], { video: true });
//   call.addEventListener("streamAdded", (e) => (video.srcObject = e.detail.stream));
//
// Every call is one room on the media server: the call publishes the camera and
// microphone (and a shared screen) with one RTCPeerConnection per publication and
// subscribes to each other participant's publications with one per feed.
// Signalling (SDP and trickled ICE candidates) travels as requests over the
// realtime connection.
import { RealtimeConnection, RealtimeError } from "./realtime.js";
import { MediaLeg, RemoteParticipant, addVideoTransceiver, emit } from "./peer.js";

export { RemoteParticipant };

export const RELAY_PATH = "/switchboard/v1/relay";

// Labels of the two data channels of a main publication.
export const RELIABLE_LABEL = "switchboard";
export const UNRELIABLE_LABEL = "switchboard-unreliable";

// What each room role may do in a call (docs/rooms.md, Roles): a Consumer only
// receives, Attendees and Collaborators do not share a screen. Outside rooms
// everyone is a Presenter.
const ROLE_CAPABILITIES = {
  Presenter: { publish: true, shareScreen: true },
  Attendee: { publish: true, shareScreen: false },
  Collaborator: { publish: true, shareScreen: false },
  Consumer: { publish: false, shareScreen: false },
};

const CALL_EVENTS = [
  "callStateChanged",
  "callParticipantJoined",
  "callParticipantLeft",
  "callParticipantUpdated",
  "callStreamAdded",
  "callStreamRemoved",
  "callEnded",
  "callInviteEnded",
];

// One call: outgoing, incoming or joined. States: `incoming`, `connecting`,
// `ringing` (waiting for the callees), `connected` and `ended`.
export class Call extends EventTarget {
  constructor(client, callId, state) {
    super();
    this.client = client;
    this.id = callId;
    this.state = state;
    this.kind = null;
    this.subject = "";
    this.caller = null;
    this.offeredVideo = false;
    this.endReason = null;
    this.participants = new Map(); // user id -> RemoteParticipant
    this.localStream = null; // camera and microphone
    this.screenStream = null;
    this.muted = false;
    this.video = false;
    this.iceServers = null;
    this.role = null; // this user's role in the call (a room role in a room call)
    this.simulcast = client.simulcast; // the camera in simulcast layers
    this._main = null;
    this._receiving = false; // set up to receive without publishing
    this._screen = null;
    this._subscriptions = new Map(); // feedId -> MediaLeg
    this._pendingFeeds = new Map(); // feedId -> stream entry, waiting to be published
    this._gone = new Set(); // feeds removed from the call
  }

  get userId() {
    return this.client.userId;
  }

  // What this user's role lets it do: { publish, shareScreen }. An unknown role
  // is left to the server to judge.
  get capabilities() {
    return ROLE_CAPABILITIES[this.role] ?? ROLE_CAPABILITIES.Presenter;
  }

  // Throws when this user's role lacks the capability `what` needs.
  _require(what, capability) {
    if (this.capabilities[capability]) return;
    const action = capability === "publish" ? "publish" : "share a screen";
    throw new Error(`${what}: a participant in the ${this.role} role may not ${action}`);
  }

  _setState(state, reason) {
    if (this.state === state || this.state === "ended") return;
    const old = this.state;
    this.state = state;
    emit(this, "stateChanged", { state, previous: old, reason });
  }

  _request(method, params) {
    return this.client.realtime.request(method, params);
  }

  _rtcConfiguration() {
    const configuration = { iceServers: this.iceServers ?? [] };
    if (this.client.iceTransportPolicy) {
      configuration.iceTransportPolicy = this.client.iceTransportPolicy;
    }
    return configuration;
  }

  // Applies a Call object of a result (docs/calls.md, Objects).
  _apply(data) {
    this.kind = data.kind;
    this.subject = data.subject ?? "";
    if (data.iceServers?.length) this.iceServers = data.iceServers;
    const me = (data.participants ?? []).find((participant) => participant.id === this.userId);
    if (me?.role) this.role = me.role;
    for (const participant of data.participants ?? []) this._participant(participant);
    if (data.state === "connected") this._setState("connected");
  }

  _participant(data) {
    if (data.id === this.userId) return null;
    let participant = this.participants.get(data.id);
    if (!participant) {
      if (data.state === "left" || data.state === "declined") return null;
      participant = new RemoteParticipant(data);
      this.participants.set(data.id, participant);
      emit(this, "participantJoined", { participant });
      return participant;
    }
    if (data.state === "left" || data.state === "declined") {
      this._left(data, data.state);
      return null;
    }
    participant.update(data);
    emit(this, "participantUpdated", { participant });
    return participant;
  }

  async _mediaStart({ video, audio = true, stream = null, simulcast }) {
    if (simulcast !== undefined) this.simulcast = Boolean(simulcast);
    if (!this.iceServers) this.iceServers = await this.client.fetchIceServers();
    if (this.capabilities.publish) await this._publishMain({ video, audio, stream });
    else this._receiveOnly();
  }

  // A role that may not publish (a Consumer) only subscribes: no camera, no
  // microphone, no data channels of its own publication.
  _receiveOnly() {
    this.muted = true;
    this.video = false;
    this._receiving = true;
  }

  // Joins the media room with the camera and microphone, and the data channels.
  async _publishMain({ video = true, audio = true, stream = null }) {
    this.localStream = stream ?? (await navigator.mediaDevices.getUserMedia({ audio, video }));
    this.video = this.localStream.getVideoTracks().length > 0;
    emit(this, "localStreamChanged", { stream: this.localStream });
    const leg = new MediaLeg(this, { kind: "main", participant: this.userId });
    this._main = leg;
    const [audioTrack] = this.localStream.getAudioTracks();
    const [videoTrack] = this.localStream.getVideoTracks();
    // Both m-lines always, so the camera can be turned on later without renegotiating.
    leg.pc.addTransceiver(audioTrack ?? "audio", { direction: "sendonly", streams: [this.localStream] });
    addVideoTransceiver(leg.pc, videoTrack ?? "video", this.localStream, { simulcast: this.simulcast });
    for (const [label, options] of [
      [RELIABLE_LABEL, { ordered: true }],
      [UNRELIABLE_LABEL, { ordered: false, maxRetransmits: 0 }],
    ]) {
      leg.channels.set(label, leg.pc.createDataChannel(label, options));
    }
    await this._publish(leg);
  }

  async _publish(leg) {
    const offer = await leg.pc.createOffer();
    await leg.pc.setLocalDescription(offer);
    const result = await this._request("media.publish", {
      callId: this.id,
      kind: leg.kind,
      sdp: leg.pc.localDescription.sdp,
    });
    leg.feedId = result.feedId;
    leg._known(result.handleId);
    await leg.pc.setRemoteDescription({ type: "answer", sdp: result.sdp });
    emit(this, "published", { kind: leg.kind, feedId: leg.feedId });
  }

  // Subscribes to another participant's feed; its tracks make one MediaStream.
  async _subscribe(entry) {
    const { feedId, participant: participantId, kind } = entry;
    if (participantId === this.userId || this._subscriptions.has(feedId)) return;
    if (this.state === "ended" || !(this._main || this._receiving)) {
      this._pendingFeeds.set(feedId, entry);
      return;
    }
    const participant =
      this.participants.get(participantId) ?? this._participant({ id: participantId, state: "connected" });
    const leg = new MediaLeg(this, { kind, feedId, participant: participantId });
    this._subscriptions.set(feedId, leg);
    leg.pc.ontrack = (event) => {
      leg.stream.addTrack(event.track);
      emit(this, "trackAdded", { participant, feedId, kind, track: event.track });
    };
    leg.pc.ondatachannel = (event) => this._receiveOn(event.channel, participantId);
    try {
      const result = await this._subscribeRequest(feedId);
      if (result === null) {
        this._subscriptions.delete(feedId);
        leg.pc.close();
        return;
      }
      leg._known(result.handleId);
      await leg.pc.setRemoteDescription({ type: "offer", sdp: result.sdp });
      // The SFU forwards a feed's data only over an association that has carried
      // something of the subscriber's: opening a channel of its own does that.
      if (result.streams?.some((stream) => stream.type === "data")) {
        this._receiveOn(leg.pc.createDataChannel("subscriber"), participantId);
      }
      const answer = await leg.pc.createAnswer();
      await leg.pc.setLocalDescription(answer);
      await this._request("media.answer", { handleId: result.handleId, sdp: leg.pc.localDescription.sdp });
    } catch (error) {
      this._subscriptions.delete(feedId);
      leg.pc.close();
      emit(this, "error", { error, during: "subscribe", feedId });
      return;
    }
    const published = { feedId, kind, stream: leg.stream };
    participant?.streams.set(feedId, published);
    emit(this, "streamAdded", { participant, ...published });
  }

  // Feeds are announced once their media flows, but around a publisher's
  // (re)connection the SFU can still refuse a subscriber for a moment, so a
  // refused subscription is retried a few times.
  // Resolves with null when the feed went away meanwhile.
  async _subscribeRequest(feedId) {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this._request("media.subscribe", { callId: this.id, feedId });
      } catch (error) {
        const retriable = error instanceof RealtimeError && [400, 404].includes(error.status);
        if (!retriable || attempt >= 10) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 150 * attempt));
      if (this.state === "ended" || this._gone.has(feedId)) return null;
    }
  }

  _receiveOn(channel, from) {
    channel.binaryType = "arraybuffer";
    channel.onmessage = (event) => emit(this, "data", { from, payload: event.data });
  }

  async _unsubscribe(feedId) {
    this._pendingFeeds.delete(feedId);
    this._gone.add(feedId);
    const leg = this._subscriptions.get(feedId);
    if (!leg) return;
    this._subscriptions.delete(feedId);
    const participant = this.participants.get(leg.participant) ?? null;
    participant?.streams.delete(feedId);
    await leg.hangup();
    emit(this, "streamRemoved", { participant, feedId, kind: leg.kind, stream: leg.stream });
  }

  async _subscribeAll(streams) {
    for (const entry of streams ?? []) await this._subscribe(entry);
    for (const entry of [...this._pendingFeeds.values()]) {
      this._pendingFeeds.delete(entry.feedId);
      await this._subscribe(entry);
    }
  }

  // Handles one call event of the user's stream (docs/calls.md, Events).
  _event(name, data) {
    switch (name) {
      case "callStateChanged":
        // An invitation stays one until it is answered here, whatever others do.
        if (data.state === "ended") this._ended(data.reason ?? "completed");
        else if (data.state === "connected" && this.state !== "incoming") {
          this._setState("connected");
        }
        break;
      case "callParticipantJoined":
      case "callParticipantUpdated":
        this._participant(data.participant);
        break;
      case "callParticipantLeft":
        this._left(data.participant, data.reason);
        break;
      case "callStreamAdded":
        this._subscribe(data);
        break;
      case "callStreamRemoved":
        this._unsubscribe(data.feedId);
        break;
      case "callEnded":
        this._ended(data.reason);
        break;
      case "callInviteEnded":
        if (this.state === "incoming") this._ended(data.reason);
        break;
    }
  }

  _left(data, reason) {
    const participant = this.participants.get(data.id);
    if (!participant) return;
    participant.update(data);
    for (const feedId of [...participant.streams.keys()]) this._unsubscribe(feedId);
    this.participants.delete(data.id);
    emit(this, "participantLeft", { participant, reason: reason ?? data.state });
  }

  async _ended(reason) {
    if (this.state === "ended") return;
    this.endReason = reason;
    this._setState("ended", reason);
    await this._release();
    this.client._forget(this);
    emit(this, "ended", { reason });
  }

  async _release() {
    this._closeLegs();
    for (const stream of [this.localStream, this.screenStream]) {
      for (const track of stream?.getTracks() ?? []) track.stop();
    }
  }

  // Closes every peer connection; the camera, microphone and screen stay on.
  _closeLegs() {
    const legs = [this._main, this._screen, ...this._subscriptions.values()].filter(Boolean);
    this._main = this._screen = null;
    this._receiving = false;
    this._subscriptions.clear();
    for (const leg of legs) {
      for (const channel of leg.channels.values()) channel.close();
      leg.pc.close();
      const participant = this.participants.get(leg.participant);
      if (leg.feedId !== null && participant?.streams.delete(leg.feedId)) {
        emit(this, "streamRemoved", { participant, feedId: leg.feedId, kind: leg.kind, stream: leg.stream });
      }
    }
  }

  // The realtime connection came back: media handles went with the old one
  // (docs/calls.md), so join again by id and publish and subscribe anew.
  async _rejoin() {
    if (this.state === "incoming" || this.state === "ended") return;
    this._closeLegs();
    let data;
    try {
      ({ call: data } = await this._request("call.join", { callId: this.id }));
    } catch (error) {
      await this._ended(error instanceof RealtimeError && error.status === 409 ? "completed" : "failed");
      return;
    }
    this._apply(data);
    try {
      if (this.capabilities.publish) {
        await this._publishMain({ stream: this.localStream });
        if (this.screenStream) await this._publishScreen(this.screenStream);
        if (this.muted) await this._update({ muted: true });
      } else {
        this._receiveOnly();
      }
      await this._subscribeAll(data.streams);
    } catch (error) {
      emit(this, "error", { error, during: "rejoin" });
    }
    emit(this, "rejoined", {});
  }

  // The callee answers: joins the room and publishes.
  async accept({ video = this.offeredVideo, audio = true, stream = null, simulcast } = {}) {
    if (this.state !== "incoming") throw new Error(`accept: the call is ${this.state}`);
    this._setState("connecting");
    try {
      const { call } = await this._request("call.accept", { callId: this.id });
      this._apply(call);
      await this._mediaStart({ video, audio, stream, simulcast });
      this._setState("connected");
      await this._subscribeAll(call.streams);
    } catch (error) {
      await this._ended("failed");
      throw error;
    }
  }

  async decline() {
    await this._request("call.decline", { callId: this.id });
    await this._ended("declined");
  }

  // The caller gives up before anyone answered.
  async cancel() {
    await this._request("call.cancel", { callId: this.id });
    await this._ended("canceled");
  }

  // Leaves; the call goes on for the others.
  async leave() {
    if (this.state === "ended") return;
    await this._release();
    await this._request("call.leave", { callId: this.id }).catch((error) => {
      if (!(error instanceof RealtimeError) || error.status !== 409) throw error;
    });
    await this._ended("completed");
  }

  // Ends the call for everyone (the caller, or a Presenter).
  async end() {
    await this._request("call.end", { callId: this.id });
    await this._ended("completed");
  }

  async _update(changes) {
    const { participant } = await this._request("call.update", { callId: this.id, ...changes });
    emit(this, "localUpdated", { participant });
    return participant;
  }

  async mute() {
    for (const track of this.localStream?.getAudioTracks() ?? []) track.enabled = false;
    this.muted = true;
    return this._update({ muted: true });
  }

  async unmute() {
    this._require("unmute", "publish");
    for (const track of this.localStream?.getAudioTracks() ?? []) track.enabled = true;
    this.muted = false;
    return this._update({ muted: false });
  }

  _videoSender() {
    return this._main?.pc.getTransceivers().find((t) => t.receiver.track.kind === "video")?.sender;
  }

  // Turns the camera on: a new camera track on the main publication.
  async startVideo() {
    this._require("startVideo", "publish");
    const sender = this._videoSender();
    if (!sender) throw new Error("startVideo: the call has no media yet");
    const camera = await navigator.mediaDevices.getUserMedia({ video: true });
    const [track] = camera.getVideoTracks();
    await sender.replaceTrack(track);
    for (const old of this.localStream.getVideoTracks()) this.localStream.removeTrack(old);
    this.localStream.addTrack(track);
    this.video = true;
    emit(this, "localStreamChanged", { stream: this.localStream });
    return this._update({ video: true });
  }

  // Turns the camera off (and its light): nothing is sent on the video m-line.
  async stopVideo() {
    const sender = this._videoSender();
    await sender?.replaceTrack(null);
    for (const track of this.localStream?.getVideoTracks() ?? []) {
      track.stop();
      this.localStream.removeTrack(track);
    }
    this.video = false;
    emit(this, "localStreamChanged", { stream: this.localStream });
    return this._update({ video: false });
  }

  // Shares a screen or window as a second publication of kind `screen`.
  async startScreenShare({ stream = null } = {}) {
    if (this._screen) return null;
    this._require("startScreenShare", "shareScreen");
    this.screenStream = stream ?? (await navigator.mediaDevices.getDisplayMedia({ video: true }));
    const [track] = this.screenStream.getVideoTracks();
    track.addEventListener("ended", () => this.stopScreenShare());
    emit(this, "screenShareChanged", { stream: this.screenStream });
    try {
      await this._publishScreen(this.screenStream);
    } catch (error) {
      await this.stopScreenShare();
      throw error;
    }
    return this._update({ screenSharing: true });
  }

  async _publishScreen(stream) {
    const leg = new MediaLeg(this, { kind: "screen", participant: this.userId });
    this._screen = leg;
    const [track] = stream.getVideoTracks();
    leg.pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
    await this._publish(leg);
  }

  async stopScreenShare() {
    const leg = this._screen;
    if (!leg) return null;
    this._screen = null;
    for (const track of this.screenStream?.getTracks() ?? []) track.stop();
    this.screenStream = null;
    emit(this, "screenShareChanged", { stream: null });
    await leg.hangup();
    if (this.state === "ended") return null;
    return this._update({ screenSharing: false });
  }

  // Sends a string or binary payload to every participant over the main
  // publication's data channel; `reliable: false` uses the channel that never
  // retransmits (RFC 8831 §6.1, partial reliability) on the way to the SFU,
  // which forwards every message to the subscribers on one reliable channel.
  sendData(payload, { reliable = true } = {}) {
    this._require("sendData", "publish");
    const channel = this._main?.channels.get(reliable ? RELIABLE_LABEL : UNRELIABLE_LABEL);
    if (!channel || channel.readyState !== "open") {
      throw new Error("sendData: the data channel is not open yet");
    }
    channel.send(payload);
  }

  // Resolves when the main publication's data channels are open.
  dataReady() {
    const channels = [...(this._main?.channels.values() ?? [])];
    return Promise.all(
      channels.map((channel) =>
        channel.readyState === "open"
          ? null
          : new Promise((resolve) => channel.addEventListener("open", resolve, { once: true })),
      ),
    );
  }

  // getStats() of every peer connection, by leg: for diagnostics and tests.
  async stats() {
    const legs = [
      ["main", this._main],
      ["screen", this._screen],
      ...[...this._subscriptions].map(([feedId, leg]) => [`feed:${feedId}`, leg]),
    ];
    const answer = {};
    for (const [name, leg] of legs) {
      if (!leg) continue;
      const report = await leg.pc.getStats();
      answer[name] = { participant: leg.participant, kind: leg.kind, stats: [...report.values()] };
    }
    return answer;
  }
}

// Starts, joins and receives calls for one user over a realtime connection.
// Events: `incomingCall` ({ call }), `callEnded` ({ call, reason }).
export class CallClient extends EventTarget {
  // options: iceTransportPolicy ("all" or "relay"), iceServers (instead of the
  // node's relay configuration), endpoint (defaults to the page's origin),
  // simulcast (false publishes the camera in one encoding only).
  constructor(realtime, { endpoint, iceTransportPolicy = null, iceServers = null, simulcast = true } = {}) {
    super();
    this.realtime = realtime;
    this.endpoint = endpoint ?? globalThis.location.origin;
    this.iceTransportPolicy = iceTransportPolicy;
    this.iceServers = iceServers;
    this.simulcast = Boolean(simulcast);
    this.calls = new Map(); // callId -> Call
    // Events that arrive before the response that names their call.
    this._early = new Map(); // callId -> [[event, data], ...]
    this._onEvent = (event) => this._route(event.detail);
    this._onReady = () => {
      for (const call of [...this.calls.values()]) call._rejoin();
    };
    realtime.addEventListener("ready", this._onReady);
    for (const name of ["incomingCall", ...CALL_EVENTS]) {
      realtime.addEventListener(name, this._onEvent);
    }
  }

  // A client on a new realtime connection made from a token, connected.
  static async create({ endpoint, token, getToken, ...options } = {}) {
    const realtime = new RealtimeConnection({ endpoint, token, getToken });
    await realtime.connect();
    return new CallClient(realtime, { endpoint, ...options });
  }

  get userId() {
    return this.realtime.ready?.userId ?? null;
  }

  // Stops listening; calls in progress are left.
  async dispose() {
    this.realtime.removeEventListener("ready", this._onReady);
    for (const name of ["incomingCall", ...CALL_EVENTS]) {
      this.realtime.removeEventListener(name, this._onEvent);
    }
    for (const call of [...this.calls.values()]) await call.leave().catch(() => {});
  }

  // The ICE servers of the user's relay configuration (docs/traversal.md).
  async fetchIceServers() {
    if (this.iceServers) return this.iceServers;
    const token = this.realtime.token;
    const answer = await fetch(new URL(RELAY_PATH, this.endpoint), {
      headers: { Authorization: `Bearer ${token}` },
    });
    if (!answer.ok) {
      console.warn("switchboard: no relay configuration", answer.status);
      return [];
    }
    const { iceServers } = await answer.json();
    return iceServers.map(({ urls, username, credential }) => ({ urls, username, credential }));
  }

  _forget(call) {
    this.calls.delete(call.id);
    emit(this, "callEnded", { call, reason: call.endReason });
  }

  _route(frame) {
    const data = frame.data ?? {};
    if (frame.event === "incomingCall") {
      this._incoming(data);
      return;
    }
    const call = this.calls.get(data.callId);
    if (call) {
      call._event(frame.event, data);
      return;
    }
    const early = this._early.get(data.callId) ?? [];
    early.push([frame.event, data]);
    this._early.set(data.callId, early);
    while (this._early.size > 16) this._early.delete(this._early.keys().next().value);
  }

  _replay(call) {
    const early = this._early.get(call.id) ?? [];
    this._early.delete(call.id);
    for (const [name, data] of early) call._event(name, data);
  }

  _incoming(data) {
    if (this.calls.has(data.callId)) return;
    const call = new Call(this, data.callId, "incoming");
    call.kind = data.kind;
    call.subject = data.subject ?? "";
    call.offeredVideo = Boolean(data.video);
    call.caller = new RemoteParticipant(data.caller);
    this.calls.set(call.id, call);
    for (const participant of data.participants ?? []) call._participant(participant);
    emit(this, "incomingCall", { call });
  }

  // Rings the targets (raw user ids) and publishes at once; resolves with the Call.
  async startCall(targets, { video = true, audio = true, subject = "", stream = null, simulcast } = {}) {
    const { call: data } = await this.realtime.request("call.start", { targets, subject, video });
    return this._begin(data, { video, audio, stream, simulcast });
  }

  // Joins a group call ({ groupId }), a room's call ({ roomId }) or a call by id.
  async join(locator, { video = true, audio = true, stream = null, simulcast } = {}) {
    const params = {};
    for (const name of ["callId", "groupId", "roomId"]) {
      if (locator[name] !== undefined) params[name] = locator[name];
    }
    const { call: data } = await this.realtime.request("call.join", params);
    return this._begin(data, { video, audio, stream, simulcast });
  }

  async _begin(data, media) {
    const call = new Call(this, data.callId, "connecting");
    this.calls.set(call.id, call);
    call._apply(data);
    this._replay(call);
    if (call.state === "ended") return call;
    // Declined or canceled while the media is being set up (the camera, ICE, the
    // SFU's answer can take seconds): the call ends at once, and what the setup
    // still opens is released when it finishes.
    const ended = new Promise((resolve) => call.addEventListener("ended", resolve, { once: true }));
    const starting = call._mediaStart(media);
    try {
      await Promise.race([starting, ended]);
    } catch (error) {
      if (call.state === "ended") return call;
      await call.leave().catch(() => {});
      throw error;
    }
    if (call.state === "ended") {
      starting.finally(() => call._release()).catch(() => {});
      return call;
    }
    if (call.state === "connecting") {
      call._setState(data.state === "ringing" ? "ringing" : "connected");
    }
    await call._subscribeAll(data.streams);
    return call;
  }
}
