"""An example srbench plugin: a model (bicubic + unsharp mask) and an attack (random sign noise).

Nothing here is imported when srbench lists names; the entry points in
pyproject.toml point at ``model:CARD`` and ``attack:RandomSignNoise``.
"""
