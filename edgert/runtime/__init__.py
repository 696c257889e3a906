"""The impulse runtime: a bundle (:mod:`.bundle`) loaded into an :class:`~.impulse.Impulse`
that classifies whole recordings (:mod:`.windowing`, DSP blocks from :mod:`edgert.dsp`,
networks from :mod:`edgert.engine`, anomaly scorers from :mod:`.anomaly`) or a live stream
(:mod:`.stream`), with results in Edge Impulse's shapes (:mod:`.results`)."""
from .bundle import Bundle, load_bundle
from .impulse import Impulse
from .results import ClassificationResult, FeatureResult, WindowResult
from .stream import Stream, StreamResult

__all__ = ["Bundle", "ClassificationResult", "FeatureResult", "Impulse", "Stream",
           "StreamResult", "WindowResult", "load_bundle"]
