"""mlflow-kata's grader: the kata's pytest plugin, sandbox, validator and class grader."""
