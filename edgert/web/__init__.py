"""The HTTP face shared by edgert's servers (the ingestion server and the gateway daemon):
Starlette applications on uvicorn, with connection-level protections (:mod:`.guard`), bounded
body reading (:mod:`.body`), safe structured logs (:mod:`.logs`), an access log with metrics
and JSON errors (:mod:`.app`), and a runner (:mod:`.server`).

Needs the ``daemon`` extra (``pip install 'edgert[daemon]'``): starlette, uvicorn with
httptools and uvloop, prometheus_client. Import the submodules directly.
"""
