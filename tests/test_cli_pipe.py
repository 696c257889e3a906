"""`edgert ... | head`: a reader that closes the pipe early ends the command quietly."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "motion-demo"


def test_closed_stdout_pipe_is_not_a_traceback():
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgert", "classify", str(EXAMPLE),
         str(EXAMPLE / "samples" / "wave.01.json"), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    first = proc.stdout.readline()
    proc.stdout.close()          # like `head -1` exiting
    err = proc.stderr.read().decode()
    rc = proc.wait(timeout=60)
    assert first.strip() == b"{"
    assert "Traceback" not in err, err
    assert rc in (0, 141)
