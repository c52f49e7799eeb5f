"""File input and output: images (DICOM, raster), landmark files, result tables.

Each format lives in its own module; nothing here imports pydicom or imageio eagerly.
"""
