"""python -m monitor.training EVAL_DIR --out monitor/analysis/weights: train, export, evaluate, write manifest."""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from pathlib import Path

from monitor.training.recipe import build_and_ship


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m monitor.training", description=__doc__)
    parser.add_argument("eval_dir", type=Path, help="the development data folder (../shared/eval)")
    parser.add_argument("--out", type=Path, default=Path("monitor/analysis/weights"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/monitor-training"), help="fp32 graph, logs")
    parser.add_argument("--smoke", action="store_true", help="a tiny run to check the pipeline end to end")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    started = time.monotonic()
    report = build_and_ship(args.eval_dir, args.out, args.work, smoke=args.smoke)
    print(json.dumps(report, indent=2))
    logging.info("done in %.0f s", time.monotonic() - started)
    shutil.rmtree(args.work / "fp32", ignore_errors=True)


if __name__ == "__main__":
    main()
