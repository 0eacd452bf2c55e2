"""Gunicorn settings for the STAC Hub: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.

Environment:
  HUB_PORT          port on 127.0.0.1 (default 5000); nginx is the only client
  WEB_CONCURRENCY   worker processes (default 2 x CPUs + 1, at most 8)
  GUNICORN_THREADS  threads per worker (default 1)
  GUNICORN_CLIENT_TIMEOUT  seconds a request body may stall before a 400 (default 10)

Workers keep nothing that matters in memory: several processes on several hosts
share one PostgreSQL, so any worker may be recycled at any time (max_requests).
"""

import multiprocessing
import os


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = f"127.0.0.1:{_int_env('HUB_PORT', 5000)}"
workers = _int_env("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8))
threads = _int_env("GUNICORN_THREADS", 1)
proc_name = "stac-hub"

# A request that takes longer than this has a bug; nginx waits a little longer
# (proxy_read_timeout 35s) so that gunicorn, not nginx, ends it.
timeout = 30
graceful_timeout = 30
keepalive = 5  # nginx keeps upstream connections open (keepalive in the upstream)

# A client that stops sending its body (a Content-Length larger than what it sends) held a
# sync worker until `timeout` killed it, then got a 500: with no buffering proxy in front
# (`make run`), a handful of such clients stop the hub. Once the headers are in, each read
# from (and write to) the client waits at most this long; a stalled body then ends the
# request with a 400 (werkzeug's "client disconnected"). Not a limit on a slow upload as a
# whole: any data arriving resets the wait.
client_timeout = _int_env("GUNICORN_CLIENT_TIMEOUT", 10)


def pre_request(worker, req):
    sock = getattr(req.unreader, "sock", None)  # absent for a source that is not a socket
    if sock is not None:
        sock.settimeout(client_timeout)

# Recycle workers now and then to contain leaks; jitter avoids all at once.
max_requests = 1000
max_requests_jitter = 100

# Heartbeat files on tmpfs (systemd's RuntimeDirectory, /run/stac-hub), so a
# slow disk cannot make workers look dead; elsewhere gunicorn's default.
runtime_dir = os.environ.get("RUNTIME_DIRECTORY")
worker_tmp_dir = runtime_dir or None
# gunicorn >= 25.1 opens a control socket for `gunicornc`; under systemd keep it
# in /run/stac-hub (the default, ~/.gunicorn, is read-only there). Older
# versions ignore the setting.
if runtime_dir:
    control_socket = os.path.join(runtime_dir, "gunicorn.ctl")

# Trust X-Forwarded-* only from nginx on this host. (Flask still needs
# werkzeug's ProxyFix(x_for=1, x_proto=1) to see the client's address.)
forwarded_allow_ips = "127.0.0.1,::1"

# Reject oversized request lines and headers early (nginx limits bodies to 1m).
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

# Logs go to stdout/stderr, i.e. the systemd journal.
accesslog = "-"
errorlog = "-"
loglevel = "info"
# The access log records the path WITHOUT the query string (%(U)s, not %(r)s)
# and no Referer: query strings carry search terms (`/cases?q=<a person's
# name>`), i.e. personal data about victims and suspects, which must not be
# copied into logs that are kept, shipped and read outside the hub's access
# policy and audit log. Who looked at what is recorded by the audit log instead.
# Fields: time, request id (from nginx), client address (nginx), method, path,
# protocol, status, response bytes, duration in seconds.
access_log_format = (
    '%(t)s %({x-request-id}i)s %({x-forwarded-for}i)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)s'
)
