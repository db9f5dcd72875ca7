"""The p-sweep figure (``docs/ntk-sweep-p.png``, docs/results/ntk.md) from ``spectral ntk`` sweeps.

    python -m spectral_cli.ntk.figure OUT.png RUN_DIR [RUN_DIR ...]

Each ``RUN_DIR`` is the output of ``spectral ntk --sweep-p ...`` (its ``report.json`` is read);
runs are grouped into one panel per target slope, see
:func:`spectral_cli.ntk.charts.build_sweep_summary`.
No numbers are computed here: the figure shows exactly what the reports hold.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from spectral_cli.core.plots import save_figure
from spectral_cli.core.runs import RunDir
from spectral_cli.ntk.charts import build_sweep_summary


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out, dirs = Path(args[0]), [Path(a) for a in args[1:]]
    runs = []
    for d in dirs:
        rep = json.loads((d / RunDir.REPORT).read_text())
        if not rep.get("sweep"):
            print(f"error: {d} is not a sweep run (its report has no sweep)", file=sys.stderr)
            return 2
        runs.append(rep)
    save_figure(build_sweep_summary(runs), out)
    print(f"wrote {out} from {len(runs)} runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
