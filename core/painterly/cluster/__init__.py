"""Batches and clips on a Ray cluster (`pip install 'painterly[ray]'`): `painterly stylize … --ray`.

- `session.py`: joining or starting the cluster; images and clip chunks spread over its nodes,
  read and written by the caller, retried by Ray where a node died;
- `node.py`: what the nodes run (one Stylizer per worker process, kept between tasks);
- `chunks.py`: a clip cut into overlapping chunks and joined back without seams.
"""

from .session import BatchReport, Cluster

__all__ = ["BatchReport", "Cluster"]
