"""Evaluation on recorded mixtures, one of each: `mixtures` (the one generator of seeded speech + noise
mixtures, its named presets such as the dev protocol, and noisy/clean pairs), `scoring` (the one scoring
path: SI-SNR, SDR, PESQ, STOI, ESTOI, HASPI/HASQI; a graph rendered as `hearpipe render` does, aggregates),
`evaluate` (a GroupComm weight file's float / fixed-point / oracle enhancers, scored per SNR and noise),
`compression` (the compression report), `plots` (spectrograms, SI-SNR improvement per noise). The
commands: `hearpipe.cli.evaluate` (model-centric) and `hearpipe.cli.eval` (graph-centric)."""
