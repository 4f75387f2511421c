"""Positions of the operation kinds in the `ops` counter array every fixed-point kernel updates.

They are positions in `hearpipe.fixed.count.OP_KINDS`, written out as literals because numba freezes
globals into its on-disk cache; `hearpipe.fixed.count` checks them against OP_KINDS at import.
"""

MAC8 = 0
MAC16 = 1
MAC32 = 2
ADD = 4
MUL = 5
CMP = 6
LUT = 7
DIV = 8
SQRT = 9
BUTTERFLY = 11
MOVE = 12
N_KINDS = 13
