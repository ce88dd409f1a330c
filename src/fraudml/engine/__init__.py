"""Where the pipelines run after validation: DuckDB (embedded) or Spark (:mod:`.spark`)."""
