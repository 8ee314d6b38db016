"""VideoRoom requests, error mapping and SDP sections."""

from __future__ import annotations

from switchboard.media.janus_client import ConnectionLost, JanusError
from switchboard.media.videoroom import media_error, media_sections, room_request

# An offer as aiortc writes it (trimmed): audio, video, then the data channel.
OFFER = (
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1 2\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=sendrecv\r\n"
    "a=mid:0\r\na=rtpmap:111 opus/48000/2\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
    "m=application 9 DTLS/SCTP 5000\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\n"
)


def test_sections_are_read_with_their_mids() -> None:
    assert media_sections(OFFER) == (
        ("audio", "0"),
        ("video", "1"),
        ("application", "2"),
    )


def test_a_section_without_mid_is_named_by_its_index() -> None:
    sdp = "v=0\nm=audio 9 RTP/AVP 0\nm=video 9 RTP/AVP 96\na=mid:v\n"
    assert media_sections(sdp) == (("audio", "0"), ("video", "v"))


def test_the_room_is_opus_and_vp8_and_not_listed() -> None:
    body = room_request(7, "abc", 12)
    assert body["request"] == "create" and body["room"] == 7
    assert body["audiocodec"] == "opus" and body["videocodec"] == "vp8"
    assert body["publishers"] == 12 and body["is_private"] is True
    assert body["permanent"] is False


def test_janus_errors_become_client_codes() -> None:
    assert media_error(JanusError(426, "No such room (7)")).code == "NotFound"
    assert (
        media_error(JanusError(426, "No such room (7)")).message == "No such room (7)"
    )
    assert media_error(JanusError(428, "No such feed")).code == "NotFound"
    assert media_error(JanusError(432, "Maximum number of publishers")).code == (
        "Conflict"
    )
    assert media_error(JanusError(465, "bad sdp")).code == "BadRequest"
    assert media_error(JanusError(490, "Error setting ICE locally")).code == (
        "MediaUnavailable"
    )
    assert media_error(ConnectionLost("gone")).code == "MediaUnavailable"
    assert media_error(TimeoutError()).code == "MediaUnavailable"
