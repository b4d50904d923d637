"""The web console at `/ui`: server-rendered pages for compliance officers, procurement and teams.

It signs in with an API token and keeps a server-side session (`sessions`), so every page is decided by
the same Rego authorization policy and read through the same record functions as the API. Pages are Jinja2
templates; the little JavaScript there is, and the libraries it uses, ship inside the package (`static/`),
so the console works on an offline network and under a strict Content-Security-Policy (`headers`).
"""
