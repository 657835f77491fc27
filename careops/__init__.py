"""Running the whole product: the four processes, their health checks, start and stop.

``python -m careops run`` is what ``make run`` ends with; ``python -m careops status`` is
``make status``. The end-to-end tests start the same process definitions on free ports.
"""
