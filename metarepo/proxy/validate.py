"""A rendered edge configuration checked by the proxy's own checker, when it is installed.

- HAProxy: ``haproxy -c -f FILE`` on the file as rendered.
- nginx: the rendered file is for the http context, so it is included from
  a minimal ``nginx.conf`` in a temp prefix (its pid, logs and temp paths
  there) and checked with ``nginx -t -q -p PREFIX -c nginx.conf -e stderr``.
- Traefik has no offline checker: the file is parsed as YAML (duplicate
  keys refused) and its shape checked (routers name services that exist).

The checker's first complaint comes back as a ``Problem`` with the line of
the rendered file it names, for an error that points at the template.
``None`` from ``check_rendered`` means no checker was installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from metarepo.templating.readback import Problem, line_at, parse_yaml

CHECK_SECONDS = 60.0
_HAPROXY_AT = re.compile(r"\[(?P<file>[^\]]*?):(?P<line>\d+)\]")
_NGINX_AT = re.compile(r" in (?P<file>\S+?):(?P<line>\d+)\s*$")
_NGINX_WRAPPER = """pid nginx.pid;
error_log stderr;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path temp/body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;
    include {routes};
}}
"""


def checker(format: str) -> str | None:
    """The program that checks ``format`` files, if installed (a path), else None."""
    name = {"haproxy": "haproxy", "nginx": "nginx"}.get(format)
    if name is None:
        return None
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}",) if Path(p).exists()), None)


def check_rendered(format: str, text: str) -> str | None:
    """Raise ``Problem`` when the checker refuses ``text``; return what checked it, or None if nothing could."""
    if format == "traefik":
        _check_traefik(text)
        return "a YAML and shape check (Traefik has no offline checker)"
    program = checker(format)
    if program is None:
        return None
    from metarepo.process import child_env, run_captured

    with tempfile.TemporaryDirectory(prefix="meta-proxy-check-") as folder:
        base = Path(folder)
        if format == "haproxy":
            file = base / "haproxy.cfg"
            file.write_text(text, encoding="utf-8")
            argv = [program, "-c", "-f", str(file)]
        else:
            file = base / "routes.conf"
            file.write_text(text, encoding="utf-8")
            (base / "temp").mkdir()
            (base / "nginx.conf").write_text(_NGINX_WRAPPER.format(routes=file), encoding="utf-8")
            argv = [program, "-t", "-q", "-p", f"{base}/", "-c", str(base / "nginx.conf"), "-e", "stderr"]
        try:
            proc = run_captured(argv, cwd=folder, env=child_env(), timeout=CHECK_SECONDS)
        except subprocess.TimeoutExpired:
            raise Problem(f"`{Path(program).name}` did not finish checking within {CHECK_SECONDS:g}s") from None
        if proc.returncode != 0:
            raise _complaint(format, proc.stderr + proc.stdout, str(file))
    return f"{Path(program).name} {'-c' if format == 'haproxy' else '-t'}"


def _complaint(format: str, output: str, file: str) -> Problem:
    """The checker's first error line, without its noise, and the rendered line it names."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    marker = "[ALERT]" if format == "haproxy" else "[emerg]"
    first = next((line for line in lines if marker in line), lines[0] if lines else "refused, saying nothing")
    pattern = _HAPROXY_AT if format == "haproxy" else _NGINX_AT
    match = pattern.search(first)
    line = int(match.group("line")) if match and match.group("file").endswith(Path(file).name) else None
    message = first
    if format == "haproxy":
        message = re.sub(r"^\[ALERT\]\s*(\(\d+\))?\s*:\s*(config\s*:\s*)?", "", message)
        message = re.sub(r"^parsing\s*:\s*", "", _HAPROXY_AT.sub("", message).strip()).replace(" : ", ": ").strip(" :")
    else:
        message = _NGINX_AT.sub("", re.sub(r"^.*?\[emerg\]\s*(\d+#\d+:\s*)?", "", message))
    return Problem(f"{Path(checker(format) or format).name} says: {message}", line=line)


def _check_traefik(text: str) -> None:
    document = parse_yaml(text, "Traefik configuration")
    http = document.get("http") if isinstance(document, dict) else None
    if not isinstance(http, dict) or not isinstance(http.get("routers"), dict) or \
            not isinstance(http.get("services"), dict):
        raise Problem("a Traefik dynamic configuration needs http.routers and http.services", ("http",))
    middlewares = http.get("middlewares") or {}
    for name, router in http["routers"].items():
        if not isinstance(router, dict) or not isinstance(router.get("rule"), str):
            raise Problem(f"router {name!r} needs a rule", ("http", "routers", name))
        if router.get("service") not in http["services"]:
            raise Problem(f"router {name!r} names service {router.get('service')!r}, which is not defined",
                          ("http", "routers", name, "service"))
        for middleware in router.get("middlewares") or []:
            if middleware not in middlewares:
                raise Problem(f"router {name!r} names middleware {middleware!r}, which is not defined",
                              ("http", "routers", name, "middlewares"))


def problem_line(text: str, problem: Problem) -> int | None:
    return problem.line if problem.line is not None else (line_at(text, problem.path) if problem.path else None)
