"""Evaluation of enhancers on recorded mixtures (optional, on top of the house; used by the command
line): `mixtures` (the dev set), `evaluate` (scoring, the float / fixed-point / oracle enhancers),
`plots` (spectrograms, SI-SNR improvement per noise). The command: `hearpipe.cli.evaluate`."""
