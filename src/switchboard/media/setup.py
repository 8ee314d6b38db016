"""Builds the media engine for the composition root."""

from __future__ import annotations

import logging
import shutil

from switchboard.config import Settings
from switchboard.core.errors import StartupError
from switchboard.media.janus import EMBEDDED, JanusEngine
from switchboard.media.janus_config import JanusOptions
from switchboard.media.links import ServerSpec
from switchboard.media.process import JanusProcess, free_port

log = logging.getLogger(__name__)


def configured_servers(settings: Settings) -> list[ServerSpec]:
    """The servers of `media.servers`, each with the configured API secret."""
    secret = settings.media.api_secret.get_secret_value()
    specs = []
    for entry in settings.media.servers:
        name, _, url = entry.partition("=")
        specs.append(ServerSpec(name.strip(), url.strip(), secret))
    return specs


def embedded_process(settings: Settings) -> JanusProcess | None:
    """The embedded Janus this node should run, or None (with a warning if wanted)."""
    media = settings.media
    if media.embedded == "off":
        return None
    if media.embedded == "auto" and media.servers:
        return None
    binary = shutil.which(media.janus_binary)
    if binary is None:
        log.warning(
            "media: no %r executable found, so this node runs without media and "
            "calls answer MediaUnavailable; install Janus (Debian package janus) "
            "or configure media.servers",
            media.janus_binary,
        )
        return None
    port = media.api_port or free_port(media.api_host)
    options = JanusOptions.from_settings(media, port)
    folder = settings.server.data_dir / "janus"
    return JanusProcess(binary, options, folder, media.restart_max_s)


def build_media(settings: Settings) -> JanusEngine:
    """The media engine over the embedded Janus and the configured servers."""
    specs = configured_servers(settings)
    process = embedded_process(settings)
    if process is not None:
        if any(spec.name == EMBEDDED for spec in specs):
            raise StartupError(
                f"media.servers names a server {EMBEDDED!r}, the name of the "
                "embedded Janus; rename it or set media.embedded = off"
            )
        if settings.server.redis:
            log.warning(
                "media: this node runs its own Janus but shares calls with other "
                "nodes (server.redis is set); a call placed on one node's embedded "
                "Janus cannot be served by another. Configure media.servers."
            )
        options = process.options
        specs.insert(0, ServerSpec(EMBEDDED, options.url, options.api_secret))
    return JanusEngine(settings.media, specs, process)
