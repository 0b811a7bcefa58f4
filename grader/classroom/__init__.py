"""Grading a class: submissions, the worker pool, kata grade, similarity and grading on Dask. Instructor only."""
