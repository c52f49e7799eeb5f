"""Landmark detection (fully automatic) and refinement (semi-automatic).

``detect_landmarks`` finds every vertebral body in a lateral radiograph and places six
points on each (``docs/detection.md``).
"""

from ._detect import detect_landmarks

__all__ = ["detect_landmarks"]
