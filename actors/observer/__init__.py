"""The observer: a web page that shows a running system, and its probe endpoints.

``ActorSystem(observe=("127.0.0.1", 9090))`` (or ``actors run tree.toml --observe
:9090``) serves, from the node itself: the page (``/``: the supervision tree live, the
message rates and latencies, failures and dead letters as a feed, an actor's details on
click), ``/metrics`` (Prometheus), ``/health/live`` and ``/health/ready``. It needs the
``[observer]`` extra (aiohttp), imported only when a system is given ``observe=``, so
``import actors`` stays as light as before. See docs/observability.md.

Modules: ``_address`` (where to listen), ``_snapshot`` (reading the live system),
``_server`` (the HTTP server and its push stream), ``_tracing`` (OpenTelemetry spans),
``static/`` (the page: plain HTML, CSS and JS, no build step, no library).
"""

from ._address import check_address, is_loopback, parse_address

__all__ = ["check_address", "is_loopback", "parse_address"]
