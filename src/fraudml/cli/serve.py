"""``fraudml serve``: the rule base as an HTTP service, under uvicorn, until stopped."""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
from contextlib import nullcontext

from omegaconf import DictConfig, OmegaConf

from fraudml.cli.common import engine_settings
from fraudml.errors import SettingError
from fraudml.workflows import load_rule_base
from fraudml.workflows.common import opened

log = logging.getLogger("fraudml")


class _Stopped(Exception):
    """Ctrl-C or SIGTERM once uvicorn has shut down gracefully."""


def _stop(signum: int, frame: object) -> None:
    raise _Stopped(signal.Signals(signum).name)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or the reason it cannot be had."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise SettingError(f"host={host!r} is not an address here ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        why = {
            errno.EADDRINUSE: "something else listens there",
            errno.EACCES: "not allowed (ports below 1024 need privileges)",
            errno.EADDRNOTAVAIL: "the address is not this machine's",
        }.get(exc.errno or 0, exc.strerror or str(exc))
        raise SettingError(f"port={port} on {host} cannot be used: {why}") from None
    sock.set_inheritable(True)
    return sock


def run(cfg: DictConfig) -> int:
    import uvicorn

    from fraudml.service import Service, ServiceSettings, create_app

    settings = ServiceSettings.from_mapping(OmegaConf.to_container(cfg, resolve=True))
    engine = engine_settings(cfg)
    base = load_rule_base(cfg.get("files"))
    data = cfg.data.path
    token = bool(os.environ.get(settings.token_env))
    # the port is taken before the data is read: a port in use stops at once
    sock = bind(settings.host, settings.port)
    try:
        source = (
            opened(str(data), cfg.data.encoding, engine, cfg.data.cache)
            if data is not None
            else nullcontext(None)
        )
        with source as ds:
            service = Service.start(base, ds, settings, engine)
            try:
                app = create_app(service)
                config = uvicorn.Config(
                    app,
                    log_config=None,
                    access_log=settings.access_log,
                    server_header=False,
                    timeout_graceful_shutdown=10,
                )
                log.info(
                    "serving %d rules on http://%s:%d (docs: /docs)%s",
                    len(service.rules.rules),
                    settings.host,
                    settings.port,
                    f"; bearer token required (${settings.token_env})" if token else "",
                )
                # uvicorn shuts down on SIGINT/SIGTERM, then raises the signal again for
                # the handler it found: ours ends the command with exit 0
                previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
                try:
                    uvicorn.Server(config).run(sockets=[sock])
                except (_Stopped, KeyboardInterrupt) as why:
                    log.info("stopped (%s)", why or "SIGINT")
                finally:
                    for s, handler in previous.items():
                        signal.signal(s, handler)
            finally:
                service.close()
    finally:
        sock.close()
    return 0
