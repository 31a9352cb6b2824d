"""Three processes, one NATS server: a store node and two shop nodes.

``make cluster`` (or ``python -m examples.cluster``) starts a loopback ``nats-server``,
the ``store`` node (it hosts the named ``inventory`` actor) and two ``shop`` nodes whose
shoppers look the inventory up by name and ask it to reserve stock, across processes.
After a few seconds the launcher kills the store process (SIGKILL, no goodbye): the
shoppers watch the inventory, so each gets ``Terminated(ref, "nodedown")`` once the
store's heartbeats stop, and stops; then everything shuts down.
"""
