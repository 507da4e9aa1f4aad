"""Engine-neutral pieces of the Dask and Spark routes: partition summaries, attach."""

__all__: list[str] = []
