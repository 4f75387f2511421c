"""Model compression (docs/compression.md): `methods` (row pruning, k-means clustering, low-bit
quantisation, block sharing) and `pipeline` (a recipe applied to a weight file, written packed)."""
