"""The short clustered-broker scenario of `make test` (the full set is
`make cluster-test`, tests/cluster/): three RabbitMQ 3.10 nodes in network
namespaces, the node holding the gateway's connection SIGKILLed in the
middle of a burst of 20 alarms; the center's persistent-session subscriber
on another node gets every alarm (duplicates only byte-identical), no last
will, and its acks reach the gateway (no false 1354).

Needs root, `ip netns` and Debian's rabbitmq-server; otherwise skipped,
saying why. About 1 minute on an idle 2-core machine."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cluster"))
import clusterlib  # noqa: E402


class TestClusterShort(clusterlib.ClusterTest):
    N_DEVICES = 20

    def test_node_killed_during_burst(self):
        self.kill_during_burst(self.N_DEVICES, "cluster_short_node_kill")


if __name__ == "__main__":
    unittest.main(verbosity=2)
