"""OpenAPI support: the document models (:mod:`.models`) and shared constants (:mod:`.constants`).

Mirrors the layout of ``fastapi.openapi`` so ``from fastapi.openapi.models import …`` resolves
through :mod:`aster.compat`.
"""
