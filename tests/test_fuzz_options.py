"""Property-based fuzzing (hypothesis) of the ``%%energy`` line in a real IPython shell.

Whatever follows ``%%energy``, the cell either is measured (its body runs, a report is stored) or
stops with exactly one ``UsageError`` line before the body runs; never a traceback from inside
lepton_lab, and never a sampler left running. The number of examples is bounded (the "ci"
profile in conftest.py) so that ``make test`` stays quick; ``--hypothesis-profile=long`` hunts
longer.
"""
from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

import lepton_lab
from lepton_lab.sampler import active_samplers

#: Characters that can be on the magic's line. IPython splits a cell at every line break that
#: str.splitlines knows (\x0b, \x1c, \u2028 ...), so those end the line, as they do for any magic.
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
ON_THE_LINE = st.characters(blacklist_categories=("Cs",), blacklist_characters=LINE_BREAKS)
TEXT = st.text(ON_THE_LINE, max_size=20)
#: Each option with values that are right, wrong, or on the edge, so that most generated lines
#: combine several options and many of them measure.
PAIRS = {
    "-i": ["0.1", "0.02", "1", "0", "-1", "abc", "1e9", "0.001", "nan"],
    "--interval": ["0.05", "inf", "", "60", "61"],
    "-l": ["train", "'two words'", "x" * 300, "énergie", '"double"', "'unclosed"],
    "--label": ["a=b", "$HOME", "%%energy", "--"],
    "--var": ["rep", "1abc", "class", "_x", "a.b"],
    "-q": [None], "--quiet": [None], "--no-plot": [None],
    "--sensors": ["estimate", "nvml", "rapl", "estimate,rapl", "", ",", "bogus", "ESTIMATE"],
    "--gpus": ["0", "a", "-1", "", "0,0"],
    "--region": ["FR", "fra", "WORLD", "XYZ", "500", "-5", "nan", "0"],
    "--pue": ["1", "1.4", "0.9", "abc", "1e9", "inf"],
    "--baseline": ["0", "0.01", "-1", "abc", "nan", "700"],
    "-n": ["5", "0", "x"], "--limit": ["20"],
    "--bogus": [None], "-x": [None], "--": [None], "-": [None],
}
PAIR = st.sampled_from(sorted(PAIRS)).flatmap(
    lambda flag: st.one_of(st.sampled_from(PAIRS[flag]), TEXT).map(lambda v: (flag, v))
    if PAIRS[flag] != [None] else st.just((flag, None)))
STRUCTURED = st.lists(st.one_of(PAIR, TEXT.map(lambda t: (t, None))), max_size=6).map(
    lambda pairs: " ".join(flag if value is None else f"{flag} {value}" for flag, value in pairs))
RANDOM = st.text(ON_THE_LINE, max_size=60)
#: An idle baseline of seconds would make the fuzzing slow, not more thorough: values under
#: 0.05 s (or invalid ones) still take every path.
_LONG_BASELINE = re.compile(r"--baseline[\s=]+['\"]?\+?0*([1-9]|0*\.0*[5-9]|\.0*[5-9])")


def _check(shell, capsys, options: str) -> None:
    if _LONG_BASELINE.search(options) or options.rstrip().endswith("?"):
        return  # a long idle wait, or IPython's help for %%energy: not what is fuzzed here
    shell.user_ns.pop("__fuzz_ran", None)
    before = lepton_lab.last_report()
    capsys.readouterr()
    result = shell.run_cell(f"%%energy {options}\n__fuzz_ran = True")
    out, err = capsys.readouterr()
    assert not active_samplers(), options
    assert "Traceback" not in out + err and "lepton_lab/" not in err, (options, err)
    if result.success:
        assert shell.user_ns.get("__fuzz_ran") is True, options
        report = lepton_lab.last_report()
        assert report is not before and report.saved, options
        assert all(line.startswith("lepton_lab: ") for line in err.splitlines() if line.strip()), (options, err)
    else:
        assert "__fuzz_ran" not in shell.user_ns, options  # the body did not run
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("UsageError: "), (options, err)


@given(options=STRUCTURED)
def test_structured_option_strings_measure_or_give_one_usage_line(shell, capsys, options):
    _check(shell, capsys, options)


@given(options=RANDOM)
def test_arbitrary_text_after_the_magic_measures_or_gives_one_usage_line(shell, capsys, options):
    _check(shell, capsys, options)
