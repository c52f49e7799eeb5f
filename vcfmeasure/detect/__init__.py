"""Landmark placement from the image: semi-automatic refinement and automatic detection.

``refine_landmarks`` moves approximate points onto the body edges; ``detect_landmarks``
finds the bodies on its own.
"""

from ._detect import detect_landmarks
from ._refine import refine_landmarks

__all__ = ["detect_landmarks", "refine_landmarks"]
