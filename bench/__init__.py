"""The benchmark suite of actors-runtime: ``python -m bench`` (``make bench``).

It answers, in one run on one machine, "how fast is actors-runtime, and compared with
what?". Absolute figures on a shared machine drift from run to run; ratios taken in the
same run do not. So every workload runs for our runtime, for hand-written asyncio
baselines and for the peers (Pykka, Thespian) in the same invocation, each system in a
fresh process per repeat, interleaved, and the table reports medians and ratios next to
the design's goals. ``docs/performance.md`` explains each workload.

Layout: ``registry`` (what a workload is; the extension point), ``workloads`` (loads the
families ``tell``, ``ask``, ``spawn``, ``memory``, ``idle``, ``selective``),
``baselines``/``kits``/``peers``/``messages`` (the systems), ``worker`` (the child),
``harness`` (the parent), ``results``/``report``/``chart`` (the output).
"""
