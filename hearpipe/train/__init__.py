"""Training of GroupComm models (optional PyTorch extra), reached through `hearpipe train` (hearpipe.cli.train).

    hearpipe train examples/train_enhance.yaml --out runs/enhance          # one run; rerun to resume
    hearpipe train experiments/recipes/enhance_conv.yaml --out runs/conv   # a shipped model's whole chain

Everything about the model is in the config's `model:` section, so a non-grouped baseline is `groups: 1`
(and `inter: none`), and a K sweep is one config per K. Modules: `data` (on-the-fly mixing, numpy only),
`model` (torch twin of hearpipe.models.groupcomm), `trainer` (loop, schedule, checkpoints, export),
`recipe` (stages in order), `average` (checkpoint averaging), `compare` (the grouping claim's table).
"""
