"""The package layout; the metadata is in pyproject.toml.

The wheel carries, beside the code, the repository's top-level graphs, device profiles and example
audiograms as `hearpipe/_share/...`: mapped by `package_dir`, not copied, so the top-level folders stay the
one source of truth. Their relative layout is kept (a shipped graph names `../examples/audiograms/x.yaml`);
`hearpipe.shipped` finds them in an installed wheel and in a source checkout alike.
"""

from setuptools import find_packages, setup

SHARE = {
    "hearpipe._share.graphs": "graphs",
    "hearpipe._share.devices": "devices",
    "hearpipe._share.examples.audiograms": "examples/audiograms",
}

setup(
    packages=find_packages(include=["hearpipe", "hearpipe.*"]) + list(SHARE),
    package_dir=SHARE,
    package_data={"hearpipe.models": ["weights/*.npz"], **{p: ["*.yaml", "*.json"] for p in SHARE}},
)
