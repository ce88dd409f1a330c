"""Networks (团伙): a window's graphs as edge tables, groups found in them, and what
members, providers and doctors gain from their groups.

- :mod:`.edges`: edge tables built by the engine (co-visits, patient–provider,
  doctor–patient, provider–provider);
- :mod:`.communities`: Leiden (python-igraph, leidenalg), and networkx for reference;
- :mod:`.groups`: a group's description and the group features, in the engine;
- :mod:`.propagation`: known labels spread to neighbours, out of fold when training;
- :mod:`.window`: the composition for one window.
"""

from fraudml.graph.communities import leiden_groups, networkx_groups
from fraudml.graph.window import WindowGraph, window_graph

__all__ = ["WindowGraph", "leiden_groups", "networkx_groups", "window_graph"]
