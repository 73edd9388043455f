from src.input_pipeline.pipeline import Pipeline, diagnose_shards, find_shards  # noqa: F401
