"""`satedge predict` and real-imagery scoring: the satellite's own inference on a user's imagery.

Everything here runs the daemon's parts (`onboard.ingest` to read and warp,
`onboard.engine` to infer, `onboard.postprocess` to find buildings), so what
it writes is what the satellite would have seen and sent; this package only
adds the outputs a person looks at (class rasters, polygons, an overlay) and
the localisation score against building footprints. No torch.
"""
