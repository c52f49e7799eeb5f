"""Pure NumPy geometry on landmark arrays: no I/O, no plotting.

Every function takes points as an ``(N, 6, 2)`` array ``xy`` (x = column, y = row, in
``POINT_NAMES`` order ``sp sm sa ia im ip``) and works on all N vertebrae at once, so a
spine of 13 vertebrae and a cohort of a million go through the same code.
"""

from ._angles import direction_angle, endplate_line_angle, two_line_angle, wedge_angle
from ._frame import body_frame, handedness, hexagon_area, polygon_self_intersects, signed_area
from ._heights import heights, heights_perpendicular, scale_xy
from ._neighbours import adjacent_indices, nearest_indices
from ._polygon import polygon_distance

__all__ = [
    "adjacent_indices",
    "body_frame",
    "direction_angle",
    "endplate_line_angle",
    "handedness",
    "heights",
    "heights_perpendicular",
    "hexagon_area",
    "nearest_indices",
    "polygon_distance",
    "polygon_self_intersects",
    "scale_xy",
    "signed_area",
    "two_line_angle",
    "wedge_angle",
]
