"""Audio and text files: checking an input (readable, whole, as long as its header says), atomic output (a
temporary file beside the target, then a rename, with the umask's mode), temporary files left by killed
renders, output formats by extension."""

from __future__ import annotations

import glob
import os
import sys
import tempfile
from pathlib import Path

import soundfile as sf

from hearpipe.errors import InvalidInput

PART = ".part"  # suffix of the temporary file a writer fills before renaming it


def notice(msg: str) -> None:
    print(f"hearpipe: notice: {msg}", file=sys.stderr)


def audio_info(path: Path):
    if not path.exists():
        raise InvalidInput(f"{path}: no such file")
    if not path.is_file():
        raise InvalidInput(f"{path}: not a file")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        raise InvalidInput(f"{path}: not a readable audio file ({e})") from None
    if info.frames <= 0:
        raise InvalidInput(f"{path}: the file holds no audio samples")
    promised = wav_promised_frames(path, info)
    if promised is not None and promised > info.frames:
        raise InvalidInput(
            f"{path}: truncated: the header promises {promised} samples per channel, the file holds "
            f"{info.frames} (cut short while copying or recording?)"
        )
    return info


def wav_promised_frames(path: Path, info) -> int | None:
    """Frames a WAV file's data chunk header announces (libsndfile reports only those present), or None
    for other formats and for streamed WAVs that leave the size open (0 or 0xFFFFFFFF)."""
    if info.format != "WAV":
        return None
    bytes_per_frame = info.channels * {
        "PCM_U8": 1,
        "PCM_16": 2,
        "PCM_24": 3,
        "PCM_32": 4,
        "FLOAT": 4,
        "DOUBLE": 8,
    }.get(info.subtype, 0)
    if not bytes_per_frame:
        return None
    with open(path, "rb") as f:
        if f.read(12)[:4] != b"RIFF":
            return None
        while header := f.read(8):
            if len(header) < 8:
                return None
            size = int.from_bytes(header[4:], "little")
            if header[:4] == b"data":
                return None if size in (0, 0xFFFFFFFF) else size // bytes_per_frame
            f.seek(size + (size & 1), os.SEEK_CUR)  # chunks are padded to an even length
    return None


def new_file_mode() -> int:
    """The mode `open(path, "w")` gives a new file: 0o666 less the process's umask."""
    umask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(umask)
    return 0o666 & ~umask


def write_text(path: str | Path, text: str, make_folders: bool = False) -> Path:
    """Write `text` to a temporary file beside `path`, then rename: a reader never sees half a file. The
    folder must exist unless `make_folders`. The one atomic text writer (reports, results, fitted graphs)."""
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    if make_folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InvalidInput(f"{p}: cannot create the folder {folder} ({e.strerror})") from None
    if not folder.is_dir():
        raise InvalidInput(f"{p}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=PART, dir=folder)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
        os.chmod(tmp, new_file_mode())  # mkstemp's 0o600 would make the file private to its writer
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def break_position(src: Path, start: int) -> int:
    """The first sample at or after `start` that cannot be decoded: a block read failed
    somewhere inside; read it again in small steps to say where."""
    try:
        with sf.SoundFile(str(src)) as f:
            f.seek(start)
            while True:
                got = len(f.read(256, always_2d=True))
                if not got:
                    return start
                start += got
    except (sf.LibsndfileError, RuntimeError):
        return start


def remove_stale_parts(dst: Path) -> None:
    """Temporary files of earlier renders of `dst` whose process is gone (killed: SIGKILL cannot be
    caught): removed with a notice. A name carries its writer's process id, so a render still running
    elsewhere keeps its file."""
    for part in dst.parent.glob(f".{glob.escape(dst.name)}.*{PART}"):
        pid = part.name[len(dst.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            try:
                part.unlink()
            except OSError:
                continue
            notice(f"{part}: removed the temporary file of an earlier render that was killed")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def output_format(dst: Path) -> str:
    ext = dst.suffix.lower().lstrip(".")
    formats = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "aiff": "AIFF", "aif": "AIFF"}
    if ext not in formats:
        raise InvalidInput(f"{dst}: unknown output format '.{ext}' (use one of: {', '.join(formats)})")
    return formats[ext]
