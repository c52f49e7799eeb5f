"""File input and output: images, landmark files, result tables, DICOM SR."""
