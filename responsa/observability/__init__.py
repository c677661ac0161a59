"""What the server tells its operator: logs, metrics and traces.

    logs.py     logging setup (text or JSON lines) and the access line
    access.py   the ASGI wrapper in `app.Responsa.__call__`: one access line and the HTTP
                metrics per request
    metrics.py  the Prometheus metrics and their exposition (`GET /metrics`)
    watch.py    the hooks the engine calls: one `ResponseWatch` per response, a context per
                upstream call and per server-run tool call (metrics, the upstream failure line,
                and spans when tracing is on)
    tracing.py  OpenTelemetry over OTLP/HTTP, imported only when an endpoint is configured

Nothing here imports the engine, the store or FastAPI; the layers above call in.
"""
