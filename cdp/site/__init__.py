"""The site shell: what composes the apps into one site.

The root and page urls, the pages that join several apps (the 360° customer page and
customer search), and the demo. It may import every app; no app imports it (the layers
contract in pyproject.toml, checked by `lint-imports`).
"""
