"""The judge: the pytest plugin, each test's case, snapshots of calls, MLflow stores, seeding, the
oracle, the model server, the runner, the warm judge and the kata worker. Runs student code only
through grader.sandbox.
"""
