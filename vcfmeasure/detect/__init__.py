"""Landmark placement from the image: semi-automatic refinement and automatic detection.

``refine_landmarks`` moves approximate points onto the body edges; ``detect_landmarks``
finds the bodies on its own; ``landmarks_from_centres`` places six points on each body
from one click inside it.
"""

from ._detect import detect_landmarks
from ._oneclick import landmarks_from_centres
from ._refine import refine_landmarks

__all__ = ["detect_landmarks", "landmarks_from_centres", "refine_landmarks"]
