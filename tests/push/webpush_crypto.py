"""A Web Push user agent's side of RFC 8291: subscription keys and decryption.

Written from the RFC with `cryptography` alone, so it checks Switchboard's
encryption (which uses http_ece) against an independent implementation.
"""

from __future__ import annotations

import base64
import os
import struct
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(hashes.SHA256(), length, salt, info).derive(ikm)


@dataclass
class UserAgentKeys:
    """What a browser keeps for one subscription: its ECDH key and auth secret."""

    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def public_bytes(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def subscription(self, endpoint: str) -> dict[str, object]:
        """The subscription as `PushSubscription.toJSON()` gives it."""
        return {
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(self.public_bytes), "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> bytes:
        """Decrypt an aes128gcm push message (RFC 8188 §2, RFC 8291 §3.4)."""
        salt = body[:16]
        (record_size,) = struct.unpack("!L", body[16:20])
        id_len = body[20]
        sender_public = body[21 : 21 + id_len]
        ciphertext = body[21 + id_len :]
        if id_len != 65 or len(ciphertext) > record_size:
            raise ValueError("not a single-record RFC 8291 message")

        # RFC 8291 §3.3: the shared secret, mixed with the auth secret.
        sender = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), sender_public
        )
        shared = self.private_key.exchange(ec.ECDH(), sender)
        key_info = b"WebPush: info\x00" + self.public_bytes + sender_public
        ikm = _hkdf(self.auth, shared, key_info, 32)

        # RFC 8188 §2.2 and §2.3: content key and nonce from the salt.
        cek = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
        nonce = _hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
        padded = AESGCM(cek).decrypt(nonce, ciphertext, None)
        unpadded = padded.rstrip(b"\x00")
        if not unpadded.endswith(b"\x02"):
            raise ValueError("the last record does not end with the 0x02 delimiter")
        return unpadded[:-1]
