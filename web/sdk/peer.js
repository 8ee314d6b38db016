// The peer connections and remote participants of a call (see calling.js).

export function emit(target, name, detail) {
  target.dispatchEvent(new CustomEvent(name, { detail }));
}

// Simulcast layers of the camera, highest first. The media server (Janus's
// VideoRoom) takes a=rid lines in that order by default and relays the highest
// layer that arrives (RFC 8853 §5.1, RFC 8851 §4). A browser may send fewer
// layers than listed when the camera's resolution is low.
export const SIMULCAST_LAYERS = [
  { rid: "h", scaleResolutionDownBy: 1, maxBitrate: 1_200_000 },
  { rid: "m", scaleResolutionDownBy: 2, maxBitrate: 400_000 },
  { rid: "l", scaleResolutionDownBy: 4, maxBitrate: 125_000 },
];

// Adds a send-only video transceiver for `track` (or "video" before there is a
// camera): in simulcast layers when asked and the browser takes `sendEncodings`
// (W3C webrtc-pc §5.1, addTransceiver), with a single encoding otherwise.
export function addVideoTransceiver(pc, track, stream, { simulcast = true } = {}) {
  const init = { direction: "sendonly", streams: [stream] };
  if (simulcast) {
    const sendEncodings = SIMULCAST_LAYERS.map((layer) => ({ ...layer }));
    try {
      return pc.addTransceiver(track, { ...init, sendEncodings });
    } catch (error) {
      console.info("switchboard: simulcast refused, sending one encoding", error);
    }
  }
  return pc.addTransceiver(track, init);
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
