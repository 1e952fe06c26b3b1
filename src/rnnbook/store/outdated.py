"""Files from before the one-off migration: refused in one line that says how to bring them forward.

Older versions of rnnbook wrote their files in shapes the readers no longer accept: a sweep's runs
without ``censored``, ``sittings`` or ``diverged`` (and keyed with the update cap hashed in), states
files without SHA-256 digests, Table 1 states without ``experiment``, ``stopped``, a digest or a
setting added since. ``python -m rnnbook.campaign.migrate RESULTS_DIR`` rewrites such files once, in
today's shapes, so that their runs go on bit for bit; it alone knows the old shapes. A reader that
meets one raises :func:`outdated`'s error, which names that command, instead of guessing.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from rnnbook.errors import ConfigError

MIGRATE = "python -m rnnbook.campaign.migrate"


class OutdatedFileError(ConfigError):
    """A file written by an older rnnbook, in a shape only the migration reads."""


def outdated(path: str | Path, what: str) -> OutdatedFileError:
    """The one-line error for ``path``, whose old shape ``what`` says (``"has no SHA-256 digests"``).

    Every such file lives at ``<results dir>/<experiment>/<name>``; the command migrates that folder."""
    results_dir = shlex.quote(str(Path(path).parent.parent))
    return OutdatedFileError(f"{str(path)!r} {what}: it was written before the one-off migration; "
                             f"bring it forward with `{MIGRATE} {results_dir}`, then run this again")
