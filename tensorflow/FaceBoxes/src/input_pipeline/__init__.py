from src.input_pipeline.pipeline import Pipeline, find_shards  # noqa: F401
