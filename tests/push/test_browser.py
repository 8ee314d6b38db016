"""Headless Chromium: the page registers for Web Push with the SDK and decrypts.

Headless Chromium here reaches no browser push service, so the page makes the
subscription's keys with WebCrypto as a browser does (ECDH P-256 and 16 random
auth bytes), registers them with the SDK's `PushApi`, and decrypts what
Switchboard sent to the push endpoint with WebCrypto (RFC 8291).
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from switchboard.client import ChatClient
from tests.conftest import RunningServer
from tests.push.conftest import call
from tests.push.providers import Providers
from tests.realtime.support import new_user, thread_with

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"
)

REGISTER = r"""
async ({ token, endpoint }) => {
  const sdk = await import("/sdk/index.js");
  const keys = await crypto.subtle.generateKey(
    { name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
  const publicRaw = new Uint8Array(
    await crypto.subtle.exportKey("raw", keys.publicKey));
  const auth = crypto.getRandomValues(new Uint8Array(16));
  window.pushKeys = { keys, publicRaw, auth };
  const api = new sdk.PushApi({ token });
  const vapid = await api.vapidPublicKey();
  const registration = await api.registerWebPush(
    { endpoint, expirationTime: null,
      keys: { p256dh: sdk.toBase64Url(publicRaw), auth: sdk.toBase64Url(auth) } },
    { appId: "browser-test" });
  const listed = await api.listRegistrations();
  return { registration, vapidBytes: vapid.length, listed: listed.length };
}
"""

DECRYPT = r"""
async (bodyBase64) => {
  const sdk = await import("/sdk/index.js");
  const { keys, publicRaw, auth } = window.pushKeys;
  const body = sdk.fromBase64Url(bodyBase64);
  const salt = body.slice(0, 16);
  const idLength = body[20];
  const senderRaw = body.slice(21, 21 + idLength);
  const ciphertext = body.slice(21 + idLength);
  const sender = await crypto.subtle.importKey(
    "raw", senderRaw, { name: "ECDH", namedCurve: "P-256" }, false, []);
  const shared = new Uint8Array(await crypto.subtle.deriveBits(
    { name: "ECDH", public: sender }, keys.privateKey, 256));
  const hkdf = async (salt, ikm, info, length) => {
    const key = await crypto.subtle.importKey(
      "raw", ikm, "HKDF", false, ["deriveBits"]);
    return new Uint8Array(await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt, info }, key, length * 8));
  };
  const text = new TextEncoder();
  const keyInfo = new Uint8Array(
    [...text.encode("WebPush: info\0"), ...publicRaw, ...senderRaw]);
  const ikm = await hkdf(auth, shared, keyInfo, 32);
  const cek = await hkdf(salt, ikm, text.encode("Content-Encoding: aes128gcm\0"), 16);
  const nonce = await hkdf(salt, ikm, text.encode("Content-Encoding: nonce\0"), 12);
  const aes = await crypto.subtle.importKey("raw", cek, "AES-GCM", false, ["decrypt"]);
  const padded = new Uint8Array(
    await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce }, aes, ciphertext));
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end -= 1;
  if (padded[end] !== 2) throw new Error("the record has no 0x02 delimiter");
  return JSON.parse(new TextDecoder().decode(padded.slice(0, end)));
}
"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless=new",
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield chromium
        await chromium.close()


async def test_a_browser_registers_and_decrypts_the_push_for_a_message(
    push_node: RunningServer, providers: Providers, browser: Browser
) -> None:
    (ada, ada_token), (bea, bea_token) = [await new_user(push_node) for _ in range(2)]
    push_id, endpoint = providers.browser_endpoint()
    page = await browser.new_page()
    await page.goto(f"{push_node.http_endpoint}/")

    made = await page.evaluate(REGISTER, {"token": bea_token, "endpoint": endpoint})
    thread = await thread_with(push_node, ada_token, [bea])
    async with ChatClient(push_node.endpoint, ada_token) as chat:
        message_id = await chat.send_message(
            thread, "Seen the draft?", sender_display_name="Ada"
        )
    [pushed] = await providers.wait_for("webpush", push_id)
    body = base64.urlsafe_b64encode(pushed.body).decode()
    notification = await page.evaluate(DECRYPT, body)

    assert made["vapidBytes"] == 65
    assert made["listed"] == 1
    assert made["registration"]["subscription"]["endpoint"] == endpoint
    assert call(push_node, "GET", bea_token).json()["value"] == [made["registration"]]
    assert pushed.headers["content-encoding"] == "aes128gcm"
    assert notification == {
        "type": "chatMessageReceived",
        "threadId": thread,
        "messageId": message_id,
        "senderId": ada,
        "senderDisplayName": "Ada",
        "preview": "Seen the draft?",
        "endpoint": push_node.endpoint,
    }
