"""Edge Impulse's ``.eim`` runner protocol served by edgert: ``edgert eim BUNDLE -o model.eim``
writes one executable file that existing Edge Impulse Linux applications (the official Python
``ImpulseRunner``, Node ``LinuxImpulseRunner``, C++ programs) start and talk to unchanged.

- :mod:`.writer`: the file (a shell launcher + a zip with the bundle), :func:`write_eim`;
- :mod:`.launcher`: its entry point; :mod:`.lifecycle`: signals, the listening socket and the
  error runner (both stdlib only: they run when edgert cannot be imported);
- :mod:`.entry`, :mod:`.server`: the runner process (load, serve, clean up);
- :mod:`.protocol`: framing, decoding and encoding of messages;
- :mod:`.session`: the answer to each request, with the runner's error texts;
- :mod:`.model`: the impulse as the runner presents it (hello document, one window per
  request, thresholds, continuous mode);
- :mod:`.shm`: the POSIX shared-memory segment of ``classify_shm``.

See docs/eim.md.
"""
from .writer import EimFile, write_eim

__all__ = ["EimFile", "write_eim"]
