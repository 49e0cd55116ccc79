"""The dashboard: server-rendered pages the daemon serves at ``/``.

- ``security`` — who the browser is (session cookie), CSRF tokens, the
  Origin/Referer check on POST, security headers, and ``WebRoute``, the route
  class every ``routes/web_*.py`` router uses so errors become HTML pages.
- ``render`` — the Jinja2 environment and ``render(request, template, ...)``.
- ``paging`` — server-side pagination for every list.
- ``templates/`` and ``static/`` (plain CSS and a little JS; no inline script,
  the CSP forbids it).
"""
