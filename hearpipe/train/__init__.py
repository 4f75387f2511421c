"""Training of GroupComm models (optional PyTorch extra). Entry point: `hearpipe.train.cli:main`."""
