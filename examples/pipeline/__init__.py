"""A small order pipeline: a source feeds a pool of workers that feed a sink.

Run it with ``make run`` (or ``actors run examples/pipeline/tree.toml``). About one
order in two hundred is malformed; the worker that gets it crashes, its supervisor restarts
it, and the pipeline keeps flowing: watch the restarts in the log and the summary.
"""
