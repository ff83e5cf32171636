"""The reporter owns the store, the analysis, the rendering and the CLI."""
