"""`hearpipe report`: the page loads in headless Chromium with no console error, every image decodes,
and the screenshot is not blank."""

import shutil
import subprocess
import tempfile

import numpy as np
import pytest

from hearpipe.cli import main
from tests.conftest import REPO, data_dir

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
# after load: each <img> whose data did not decode, and the number of <img> and <audio> elements
CHECK = ("<script>addEventListener('load',()=>{const b=[...document.images].filter(i=>!i.complete||!i.naturalWidth);"
         "document.title='imgs='+document.images.length+' broken='+b.length+' audio='"
         "+document.querySelectorAll('audio').length})</script>")  # fmt: skip


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")
def test_report_loads_in_headless_chromium(tmp_path):
    audio = sorted((data_dir() / "dev" / "noisy_pairs").iterdir())[0]
    page = tmp_path / "report.html"
    args = ["report", "hearing_aid", "--device", "hearing-aid-dsp", "--audio", str(audio), "-o", str(page),
            "--audiogram", str(REPO / "examples" / "audiograms" / "mild_sloping.yaml")]  # fmt: skip
    assert main(args) == 0
    text = page.read_text()
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text
    (tmp_path / "checked.html").write_text(text.replace("</body>", CHECK + "</body>"))
    run = [CHROMIUM, *FLAGS, f"--user-data-dir={tempfile.mkdtemp()}", "--enable-logging=stderr", "--v=0",
           "--virtual-time-budget=5000"]  # fmt: skip
    dom = subprocess.run([*run, "--dump-dom", (tmp_path / "checked.html").as_uri()], capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert "<title>imgs=4 broken=0 audio=2</title>" in dom.stdout
    errors = [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln.upper() or "Uncaught" in ln]
    assert not errors, errors
    shot = tmp_path / "shot.png"
    subprocess.run([*run, "--window-size=1100,1400", f"--screenshot={shot}", page.as_uri()], capture_output=True,
                   timeout=120)  # fmt: skip
    from matplotlib.image import imread

    img = imread(shot)[..., :3]
    assert img.shape[:2] == (1400, 1100)
    assert np.mean(np.std(img, axis=(0, 1))) > 0.05 and np.mean(img < 0.5) > 0.01  # content, not a blank page
