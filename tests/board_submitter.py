"""One participant submitting (tests/test_board.py runs thirty at once).

    python tests/board_submitter.py REPORT_JSON BOARD NAME GO_FILE

Loads a real measurement's report, prints ``ready``, waits for GO_FILE, then submits it to the board
as NAME and prints the path written.
"""
from __future__ import annotations

import os
import sys
import time

from lepton_lab.board import submit
from lepton_lab.report import EnergyReport


def main(report_path: str, board: str, name: str, go: str) -> None:
    report = EnergyReport.load(report_path)
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.005)
    print(submit(report, board, participant=name, accuracy=0.95, inferences=1000, accuracy_floor=0.9), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:5])
