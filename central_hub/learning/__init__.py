"""Digitale Lernhilfe: the city's learning platform, a hub service (``docs/learning.md``).

WHY a service of its own: pupils, parents, volunteer authors and reviewers use it, with its
own content, rules and data; it has the shape every hub service has
(:mod:`central_hub.core.services`).
"""
