"""The online service (``jobs/serve.py``): one video per HTTP request, scored by the model an alias points at."""
