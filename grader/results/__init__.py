"""What a grading produces, typed: verdicts, runs, submissions, the class, and results.json's schema. Imports grader.lab and grader.core."""
