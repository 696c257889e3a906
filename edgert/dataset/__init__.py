"""Local datasets: a folder of recordings indexed in SQLite (:mod:`.index`) and the sample
filters of Studio's classify-all result page (:mod:`.filters`)."""
from .filters import CATEGORIES, MetadataFilter, SampleFilter, format_date, parse_date
from .index import Dataset, SampleData, SampleRow, infer_label

__all__ = ["CATEGORIES", "Dataset", "MetadataFilter", "SampleData", "SampleFilter", "SampleRow",
           "format_date", "infer_label", "parse_date"]
