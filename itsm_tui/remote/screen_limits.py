"""The largest screen a remote client may give a desk, over SSH or in a browser.

A desk's memory grows with its screen: a 4000x4000 window gave a 250 MB desk process, while
500x200 (wider than two 4K monitors' worth of 8-pixel columns) costs a few MB. One limit for
both doors, so neither is the cheaper way in.
"""

from __future__ import annotations

MAX_COLUMNS = 500
MAX_ROWS = 200
