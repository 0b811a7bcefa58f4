"""What a grading produces, typed: verdicts, runs, submissions, the class (model), and
results.json's one codec and schema. Imports grader.lab and grader.core.
"""
