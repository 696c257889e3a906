"""Local datasets: a folder of recordings indexed in SQLite (:mod:`.index`) and the sample
filters of Studio's classify-all result page (:mod:`.filters`).

>>> ds = Dataset("data/", hmac_key="...")         # indexes (incrementally) data/
>>> rows = ds.query(SampleFilter(category="testing", labels=["idle"]), limit=20, offset=0)
>>> rows[0].to_studio()                              # Studio's sample object
>>> ds.errors()                                      # unreadable files and why
>>> ds.load(rows[0]).values                          # (n, axes) float32
"""
from .filters import CATEGORIES, MetadataFilter, SampleFilter, format_date, parse_date
from .index import Dataset, SampleData, SampleRow, infer_label

__all__ = ["CATEGORIES", "Dataset", "MetadataFilter", "SampleData", "SampleFilter", "SampleRow",
           "format_date", "infer_label", "parse_date"]
