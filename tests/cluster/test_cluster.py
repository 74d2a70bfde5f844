"""The clustered-broker scenarios (`make cluster-test`, docs/scaling.md §4):
a three-node RabbitMQ 3.10 cluster in network namespaces (clusterlib.py),
a real firegw with the simulator, and the command center's persistent-
session subscriber on another node. Each scenario asserts on what the
center receives and prints its FIGURES line (alarms sent, received, lost,
duplicated)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clusterlib  # noqa: E402


class TestCluster(clusterlib.ClusterTest):

    def test_1_node_killed_during_burst(self):
        self.kill_during_burst(50, "node_kill")

    def test_2_node_partitioned_then_healed(self):
        self.partition(30, "partition")

    def test_3_rolling_restart(self):
        self.rolling_restart("rolling_restart")

    def test_4_retained_per_node(self):
        self.retained_per_node("retained")

    def test_5_node_killed_during_burst_uri_list(self):
        """The same kill, the gateway listing the nodes itself (mqtt.uri as
        a list) instead of a load balancer."""
        self.kill_during_burst(50, "node_kill_uri_list", uris=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
