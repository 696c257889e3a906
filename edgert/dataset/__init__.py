"""Local datasets: a folder of recordings indexed in SQLite (:mod:`.index`; its tables in
:mod:`.schema`, labelling rules and ``info.labels`` in :mod:`.manifest`, file decoding in
:mod:`.decoding`, uploads in :mod:`.uploads`), the sample filters of Studio's classify-all
result page (:mod:`.filters`), classify-all over a dataset (:mod:`.classify_all`, its result
cache's codec in :mod:`.cache_codec`) and its validation metrics (:mod:`.metrics`).

>>> ds = Dataset("data/", hmac_key="...")         # indexes (incrementally) data/
>>> rows = ds.query(SampleFilter(category="testing", labels=["idle"]), limit=20, offset=0)
>>> rows[0].to_studio()                              # Studio's sample object
>>> ds.errors()                                      # unreadable files and why
>>> ds.load(rows[0])                                 # an edgert.recording.Recording
"""
from .filters import CATEGORIES, MetadataFilter, SampleFilter, format_date, parse_date
from .index import Dataset, SampleRow

__all__ = ["CATEGORIES", "Dataset", "MetadataFilter", "SampleFilter", "SampleRow",
           "format_date", "parse_date"]
