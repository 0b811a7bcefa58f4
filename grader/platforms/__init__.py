"""Exports to the platforms courses run on: Canvas, Moodle (matched through roster), JUnit XML and
the Gradescope autograder bundle. Instructor only.
"""
