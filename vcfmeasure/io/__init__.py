"""File input and output: images (DICOM, PNG/TIFF/JPEG), landmark files, result tables, DICOM SR.

Each format lives in its own module; nothing here is imported by ``import vcfmeasure``.
"""
