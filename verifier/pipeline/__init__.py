from verifier.pipeline.run import RunResult, run_pipeline

__all__ = ["RunResult", "run_pipeline"]
