"""Training of GroupComm models (optional PyTorch extra). Entry point: `hearpipe.train.cli:main`.

    hearpipe train examples/train_enhance.yaml        # or: python -m hearpipe.train CONFIG
    python -m hearpipe.metrics.evaluate builtin:enhance_conv --n 12 --stoi

A run resumes from `out_dir/last.pt`; the best model on the dev subset is exported to `out_dir/best.npz`
and copied to `export_path`. Everything about the model is in the config's `model:` section, so a
non-grouped baseline is `groups: 1` (and `inter: none`), and a K sweep is one config per K.
Modules: `data` (on-the-fly mixing, numpy only), `model` (torch twin of hearpipe.models.groupcomm),
`trainer` (loop, schedule, checkpoints, export), `cli`.
"""
