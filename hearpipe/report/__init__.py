"""`hearpipe report`: one self-contained HTML page about a graph on a device (figures and audio inlined as
data URIs, no network): `figures` draws, `page` assembles."""
