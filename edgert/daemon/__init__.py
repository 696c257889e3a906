"""The gateway daemon (``edgert daemon``): the Studio-compatible subset of the Edge Impulse
API over the gateway's samples, the ingestion API, live classification with webhooks, and
anomaly events forwarded upstream through the durable outbox. Needs the ``daemon`` extra.

* :mod:`.config` - flags, TOML config, limits
* :mod:`.app` - :class:`~.app.Gateway` (state), :func:`~.app.create_app`, :func:`~.app.serve`
* :mod:`.studio`, :mod:`.live`, :mod:`.webhooks`, :mod:`.anomalies`, :mod:`.samples`,
  :mod:`.jobs`, :mod:`.db`, :mod:`.metrics`, :mod:`.openapi`
"""
