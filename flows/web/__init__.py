"""The personal answer page: people open their task from a link, read it and answer.

``counsel serve`` runs it (``counsel up`` starts one). A link carries a signed token
(:mod:`decisions.links`) that names one person's task (``/t/<token>``) or their inbox
(``/me/<token>``); the page reads everything else from the store and the decision classes,
so any number of instances can serve the same store behind a load balancer. Answers go
through :func:`flows.answering.submit_answer`, the one answer path of the CLI and the
Prefect form.

- :mod:`flows.web.catalogue` — the page's sentences in Chinese and English, and local time;
- :mod:`flows.web.fields` — each task's HTML form: its fields, reading what was sent, and
  saying in the person's language what is wrong with it;
- :mod:`flows.web.pages` — what a page shows, read from the store;
- :mod:`flows.web.limiter` — refused links per client and minute;
- :mod:`flows.web.app` — the Starlette application; :mod:`flows.web.server` runs it.

Importing this package loads nothing: :mod:`flows.forms` reads the catalogue without
Starlette.
"""
