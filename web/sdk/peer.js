// The peer connections and remote participants of a call (see calling.js).

export function emit(target, name, detail) {
  target.dispatchEvent(new CustomEvent(name, { detail }));
}

// One WebRTC peer connection to the media server: a publication or a subscription.
export class MediaLeg {
  constructor(call, { kind, feedId = null, participant = null }) {
    this.call = call;
    this.kind = kind;
    this.feedId = feedId;
    this.participant = participant;
    this.handleId = null;
    this.channels = new Map(); // label -> RTCDataChannel
    this.stream = new MediaStream();
    this._early = []; // candidates gathered before the handle id is known
    this.pc = new RTCPeerConnection(call._rtcConfiguration());
    this.pc.onicecandidate = (event) => this._trickle(event.candidate);
    this.pc.onconnectionstatechange = () => {
      emit(call, "mediaStateChanged", { leg: this.describe(), state: this.pc.connectionState });
    };
  }

  describe() {
    return { kind: this.kind, feedId: this.feedId, participant: this.participant };
  }

  // RFC 8838 §4: candidates go out as they are found; null ends gathering.
  _trickle(candidate) {
    const payload = candidate
      ? { candidate: candidate.candidate, sdpMid: candidate.sdpMid, sdpMLineIndex: candidate.sdpMLineIndex }
      : null;
    if (this.handleId === null) {
      this._early.push(payload);
      return;
    }
    this._send(payload);
  }

  _send(candidate) {
    this.call._request("media.trickle", { handleId: this.handleId, candidate }).catch((error) => {
      // A lost connection takes the handle with it: the call joins again.
      if (!["ConnectionLost", "NotConnected"].includes(error.code)) {
        console.warn("switchboard: trickle failed", error);
      }
    });
  }

  _known(handleId) {
    this.handleId = handleId;
    for (const candidate of this._early.splice(0)) this._send(candidate);
  }

  async hangup() {
    const handleId = this.handleId;
    for (const channel of this.channels.values()) channel.close();
    this.pc.close();
    if (handleId !== null && this.call.state !== "ended") {
      await this.call._request("media.hangup", { handleId }).catch(() => {});
    }
  }
}

// A participant other than this user, with a MediaStream per subscribed feed.
export class RemoteParticipant {
  constructor(data) {
    this.id = data.id;
    this.streams = new Map(); // feedId -> { feedId, kind, stream }
    this.update(data);
  }

  update(data) {
    this.displayName = data.displayName ?? "";
    this.state = data.state;
    this.role = data.role;
    this.muted = Boolean(data.muted);
    this.video = Boolean(data.video);
    this.screenSharing = Boolean(data.screenSharing);
  }
}
